"""The chat timeline view: sticks to the bottom, pages history in at the top.

Scrolling is per pixel. The view follows the newest message only while the person is
already at the bottom (so reading older text is never interrupted by a streaming
reply). Coming within one screen of the top asks the model for the previous page;
the rows are laid out at once and the scroll bar moved by the height they added, so
the text under the reader's eyes does not jump. A window opened around an old message
(``reveal_message``) pages newer messages in near the bottom the same way, and does
not stick to the bottom until it has reached the newest message.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QPointF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QGuiApplication, QHelpEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QToolTip, QWidget

from chatdesk.services.records import MessageRecord
from chatdesk.ui.chat.action_bar import ActionBar, BarCommand, rerun_of
from chatdesk.ui.chat.bubble_editor import BubbleEditor
from chatdesk.ui.chat.bubble_selection import BubbleSelection
from chatdesk.ui.chat.message_delegate import MessageDelegate
from chatdesk.ui.chat.message_model import MessageListModel, MessageRoles
from chatdesk.ui.chat.message_moves import next_of_mine, quoted
from chatdesk.ui.chat.version_switcher import VersionSwitcher
from chatdesk.ui.theme import ThemeManager
from chatdesk.ui.time_format import long_time
from chatdesk.vocabulary import ACTIVE_MESSAGE_STATUSES, MessageStatus, Role

ANIMATION_MS = 400
BOTTOM_SLACK = 4
FLASH_MS = 1600
FLASH_STEP_MS = 40
# At most one read-ahead step this often: each takes a millisecond or two, and several
# in one frame (or one in the frame that pages) would make that frame late.
WARM_STEP_MS = 8
JUMP_PAGES = 20
"""Pages read looking up for the person's previous message before giving up."""


class MessageListView(QListView):
    """A ``QListView`` over ``MessageListModel`` painted by ``MessageDelegate``.

    Signals:
        link_activated: a link was clicked (str URL, not yet vetted).
        attachment_clicked: a file chip in a bubble was clicked (message id, attachment id).
        citation_clicked: a citation link under a reply was clicked (message id, its
            index among the reply's citations).
        retry_requested: Retry was clicked; the user message to send again (int).
        current_message_changed: the selected message (int id, 0 for none).
        regenerate_requested: Regenerate was chosen; the user message to answer again (int).
        edit_requested: Edit was chosen on this user message (int): edit it in its bubble.
        branch_requested: Branch into new chat was chosen on this message (int).
        delete_requested: Delete was chosen on this message (int).
        origin_requested: a branched chat's "Branched from …" was clicked (the original
            chat's id, the message's id there).
        details_requested: the tools line of this reply was clicked: show its run (int).
        quote_requested: Quote in reply was chosen: this text, quoted, goes to the composer.
    """

    link_activated = Signal(str)
    attachment_clicked = Signal(int, int)
    citation_clicked = Signal(int, int)
    retry_requested = Signal(int)
    current_message_changed = Signal(int)
    regenerate_requested = Signal(int)
    edit_requested = Signal(int)
    branch_requested = Signal(int)
    delete_requested = Signal(int)
    origin_requested = Signal(int, int)
    details_requested = Signal(int)
    quote_requested = Signal(str)

    def __init__(
        self, model: MessageListModel, theme: ThemeManager, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("messageList")
        self.setAccessibleName("Messages")
        self._model = model
        self._delegate = MessageDelegate(self, theme)
        self.setModel(model)
        self.setItemDelegate(self._delegate)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWordWrap(True)  # makes QListView re-lay out on width changes too
        self.setUniformItemSizes(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._stick_to_bottom = True
        self._loading_older = False
        self._loading_newer = False
        self._flash = QTimer(self)
        self._flash.setInterval(FLASH_STEP_MS)
        self._flash_left = 0
        self._animation = QTimer(self)
        self._animation.setInterval(ANIMATION_MS)
        # Reads the next page each way and lays out its bubbles, one step per idle
        # turn of the event loop, so paging in history costs its frame almost nothing.
        self._warmer = QTimer(self)
        self._warmer.setInterval(WARM_STEP_MS)
        # Drag-select inside a bubble; then the bar, which so sees clicks first.
        self.text_selection = BubbleSelection(self, self._delegate, model)
        self.action_bar = ActionBar(self, self._delegate, model, commands=self)
        self.version_switcher = VersionSwitcher(self, model, self._delegate)
        self.bubble_editor = BubbleEditor(self, model, self._delegate)
        self.setAccessibleDescription("Right arrow: this message's actions")
        self._connect_signals()

    @property
    def delegate(self) -> MessageDelegate:
        return self._delegate

    def _connect_signals(self) -> None:
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self.on_scroll_value_changed)
        bar.rangeChanged.connect(self.on_scroll_range_changed)
        # model
        self._model.modelReset.connect(self.on_model_reset)
        self._model.activity_changed.connect(self.on_activity_changed)
        self._model.dataChanged.connect(self.on_model_data_changed)
        for paged in (
            self._model.thread_loaded,
            self._model.older_loaded,
            self._model.newer_loaded,
        ):
            paged.connect(self.on_paged)
        self._warmer.timeout.connect(self.on_warm_tick)
        # delegate
        self._delegate.link_activated.connect(self.link_activated)
        self._delegate.attachment_clicked.connect(self.attachment_clicked)
        self._delegate.citation_clicked.connect(self.citation_clicked)
        self._delegate.retry_clicked.connect(self.retry_requested)
        self._delegate.tools_clicked.connect(self.details_requested)
        self._delegate.origin_clicked.connect(self.origin_requested)
        self._animation.timeout.connect(self.on_animation_tick)
        self._flash.timeout.connect(self.on_flash_tick)
        self.customContextMenuRequested.connect(self.on_context_menu)
        self.selectionModel().currentChanged.connect(self.on_current_changed)

    # -- scrolling -------------------------------------------------------------------

    def is_at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - BOTTOM_SLACK

    def reserve_bottom(self, pixels: int) -> None:
        """Keep the last line clear of a notice floating over the list's bottom edge."""
        at_bottom = self.is_at_bottom()
        self.setViewportMargins(0, 0, 0, max(0, pixels))
        if at_bottom:
            self.scroll_to_end()

    def scroll_to_end(self) -> None:
        self._stick_to_bottom = True
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def on_scroll_value_changed(self, value: int) -> None:
        maximum = self.verticalScrollBar().maximum()
        self._stick_to_bottom = value >= maximum - BOTTOM_SLACK and not self._model.has_newer
        if value <= self.viewport().height() and self._model.has_older:
            QTimer.singleShot(0, self.load_older)
        if value >= maximum - self.viewport().height() and self._model.has_newer:
            QTimer.singleShot(0, self.load_newer)

    def on_scroll_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._stick_to_bottom:
            self.verticalScrollBar().setValue(maximum)
        if maximum <= self.viewport().height() and self._model.has_older:
            QTimer.singleShot(0, self.load_older)
        if maximum <= self.viewport().height() and self._model.has_newer:
            QTimer.singleShot(0, self.load_newer)

    def load_older(self) -> int:
        """Bring in the previous page, keeping the visible text where it is."""
        if self._loading_older or not self._model.has_older:
            return 0
        bar = self.verticalScrollBar()
        if bar.value() > self.viewport().height() and bar.maximum() > self.viewport().height():
            return 0  # scrolled away again before the timer fired
        self._loading_older = True
        try:
            old_max = bar.maximum()
            stick = self._stick_to_bottom
            self._stick_to_bottom = False
            count = self._keep_in_place(self._model.load_older)
            if count and stick and old_max == 0:
                self.scroll_to_end()
            elif not count:
                self._stick_to_bottom = stick
            return count
        finally:
            self._loading_older = False

    def load_newer(self) -> int:
        """Bring in the next page below; the visible text stays where it is."""
        if self._loading_newer or not self._model.has_newer:
            return 0
        bar = self.verticalScrollBar()
        if bar.value() < bar.maximum() - self.viewport().height():
            return 0  # scrolled away again before the timer fired
        self._loading_newer = True
        try:
            return self._keep_in_place(self._model.load_newer)
        finally:
            self._loading_newer = False

    def _keep_in_place(self, load: Callable[[], int]) -> int:
        """Run ``load`` (which adds rows at one end and may drop some at the other),
        then scroll so the message at the top of the view stays where it was."""
        anchor = self.indexAt(QPoint(self.viewport().width() // 2, 1))
        anchor_id = anchor.data(MessageRoles.MessageId) if anchor.isValid() else None
        offset = self.visualRect(anchor).top() if anchor.isValid() else 0
        count = load()
        if count:
            self.doItemsLayout()
            row = self._model.row_of(int(anchor_id)) if anchor_id else None
            if row is not None:
                bar = self.verticalScrollBar()
                top = self.visualRect(self._model.index(row)).top()
                bar.setValue(bar.value() + top - offset)
        return count

    def on_paged(self, _count: int) -> None:
        self._warmer.start()

    def on_warm_tick(self) -> None:
        """One step of getting the next pages ready: read one, or lay out one bubble."""
        font = self.font()
        for older in (True, False):
            if self._model.read_ahead(older=older):
                return
            for m in self._model.upcoming(older=older):
                if self._delegate.prepare(m, font):
                    return
        self._warmer.stop()

    def on_model_reset(self) -> None:
        self._delegate.clear_cache()
        self._stick_to_bottom = not self._model.has_newer
        QTimer.singleShot(0, self.on_reset_laid_out)

    def on_reset_laid_out(self) -> None:
        """Show the newest messages of a freshly opened thread, unless something (a
        revealed search result) has asked for another position since."""
        if self._stick_to_bottom:
            self.scroll_to_end()

    def reveal_message(self, message_id: int) -> bool:
        """Scroll ``message_id`` to the middle, make it current and flash it briefly."""
        row = self._model.row_of(message_id)
        if row is None:
            return False
        index = self._model.index(row)
        self._stick_to_bottom = False
        self.doItemsLayout()
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._stick_to_bottom = self.is_at_bottom() and not self._model.has_newer
        self._delegate.flash_id = message_id
        self._flash_left = FLASH_MS
        self._flash.start()
        self.on_flash_tick()
        return True

    def on_flash_tick(self) -> None:
        """Fade the revealed message's highlight out, one step per tick."""
        self._flash_left = max(0, self._flash_left - FLASH_STEP_MS)
        self._delegate.flash_level = self._flash_left / FLASH_MS
        if self._flash_left == 0:
            self._flash.stop()
            self._delegate.flash_id = None
        row = self._model.row_of(self._delegate.flash_id or 0)
        if row is not None:
            self.viewport().update(self.visualRect(self._model.index(row)))
        else:
            self.viewport().update()

    def on_model_data_changed(
        self, top_left: QModelIndex, bottom_right: QModelIndex, roles: list[int]
    ) -> None:
        # A longer reply or a new status line changes a bubble's height: re-layout.
        if not roles or {MessageRoles.Content, MessageRoles.Status, MessageRoles.Error} & set(
            roles
        ):
            self.scheduleDelayedItemsLayout()

    # -- animation -------------------------------------------------------------------

    def on_activity_changed(self) -> None:
        if self._model.is_active():
            if not self._animation.isActive():
                self._animation.start()
        else:
            self._animation.stop()
            self.viewport().update()

    def on_animation_tick(self) -> None:
        self._delegate.frame += 1
        rows = self._model.rowCount()
        for row in range(max(0, rows - 12), rows):
            index = self._model.index(row)
            status = MessageStatus(index.data(MessageRoles.Status))
            if status in ACTIVE_MESSAGE_STATUSES:
                self.viewport().update(self.visualRect(index))

    # -- selection and copy ----------------------------------------------------------

    def on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.action_bar.on_current_changed()
        message_id = current.data(MessageRoles.MessageId) if current.isValid() else None
        self.current_message_changed.emit(int(message_id or 0))

    def selected_text(self) -> str:
        index = self.currentIndex()
        return str(index.data(MessageRoles.Content) or "") if index.isValid() else ""

    def copy_selected(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)

    def copy_plain_text(self, message_id: int) -> None:
        """Copy a bubble as it reads (no Markdown marks); its source if it is not laid out."""
        text = self.text_selection.plain_text_of(message_id)
        if text is None:
            row = self._model.row_of(message_id)
            if row is None:
                return
            text = str(self._model.index(row).data(MessageRoles.Content) or "")
        if text:
            QGuiApplication.clipboard().setText(text)

    def update_attachment(self, attachment_id: int) -> None:
        """Repaint only the bubbles on screen that show this file (its picture came in):
        a whole-viewport repaint per picture made a chat of photos scroll slower."""
        rect = self.viewport().rect()
        first = self.indexAt(rect.topLeft())
        last = self.indexAt(rect.bottomLeft())
        if not first.isValid():
            return
        end = last.row() if last.isValid() else self._model.rowCount() - 1
        for row in range(first.row(), end + 1):
            index = self._model.index(row)
            record = index.data(MessageRoles.Record)
            if record is not None and any(f.id == attachment_id for f in record.attachments):
                self.viewport().update(self.visualRect(index))

    def quote_message(self, message_id: int) -> None:
        """Quote the selected part of ``message_id`` (all of it without a selection)."""
        row = self._model.row_of(message_id)
        if row is None:
            return
        part = (
            self.text_selection.selected_text()
            if self.text_selection.has_selection(message_id)
            else ""
        )
        whole = str(self._model.index(row).data(MessageRoles.Content) or "")
        text = part or whole
        if text.strip():
            self.quote_requested.emit(quoted(text))

    def jump_to_mine(self, step: int) -> bool:
        """Reveal the person's previous (``step`` -1) or next (+1) message from the
        current one; older pages are read when none is left above. False: none."""
        current = self.currentIndex()
        start = current.row() if current.isValid() else self._model.rowCount()
        for _page in range(JUMP_PAGES):
            found = next_of_mine(
                self._model.rowCount(),
                lambda row: self._model.index(row).data(MessageRoles.Record),
                start,
                step,
            )
            if found is not None:
                record = self._model.index(found).data(MessageRoles.Record)
                return self.reveal_message(record.id)
            if step > 0 or not self._model.has_older:
                return False
            start += self.load_older()  # rows came in above: the same message is lower
        return False

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            return self._show_time(event)
        return super().viewportEvent(event)

    def _show_time(self, event: QHelpEvent) -> bool:
        """Over a bubble, its full date and time (the status line shows only the time)."""
        index = self.indexAt(event.pos())
        record = index.data(MessageRoles.Record) if index.isValid() else None
        geo = (
            self._delegate.geometry(self.visualRect(index), index, self.font())
            if record is not None
            else None
        )
        if record is None or geo is None or not geo.bubble.contains(QPointF(event.pos())):
            QToolTip.hideText()
            event.ignore()
            return True
        QToolTip.showText(event.globalPos(), long_time(record.created_at), self.viewport())
        return True

    def make_current(self, index: QModelIndex) -> None:
        """Make ``index`` the current row without scrolling: Qt would scroll a reply
        taller than the view to its top, away from the button or menu just used."""
        self.setAutoScroll(False)
        self.setCurrentIndex(index)
        self.setAutoScroll(True)

    def select_message(self, message_id: int) -> None:
        row = self._model.row_of(message_id)
        if row is not None:
            self.selectionModel().setCurrentIndex(
                self._model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selected()
            event.accept()
            return
        super().keyPressEvent(event)

    def context_menu_for(self, pos: QPoint) -> QMenu | None:
        """The bubble menu at ``pos`` (viewport coordinates), built but not shown."""
        index = self.indexAt(pos)
        if not index.isValid():
            return None
        self.make_current(index)
        record: MessageRecord = index.data(MessageRoles.Record)
        menu = QMenu(self)
        menu.setObjectName("messageMenu")
        if self.text_selection.has_selection(record.id):
            copy_part = menu.addAction("Copy")
            copy_part.setShortcut(QKeySequence.StandardKey.Copy)
            copy_part.triggered.connect(self.text_selection.copy)
        code = self._delegate.code_at(self.visualRect(index), index, QPointF(pos), self.font())
        if code is not None:
            copy_code = menu.addAction("Copy code")
            copy_code.triggered.connect(lambda: QGuiApplication.clipboard().setText(code))
        menu.addAction("Copy as Markdown").triggered.connect(self.copy_selected)
        as_plain = menu.addAction("Copy as plain text")
        as_plain.triggered.connect(lambda: self.copy_plain_text(record.id))
        quote = menu.addAction("Quote in reply")
        quote.triggered.connect(lambda: self.quote_message(record.id))
        if record.role is Role.USER:
            menu.addSeparator()
            edit = menu.addAction(BarCommand.EDIT.value)
            edit.triggered.connect(lambda: self.edit_requested.emit(record.id))
        rerun = rerun_of(self._model, record)  # Retry for a failed or stopped run
        if rerun is not None:
            command, target = rerun
            menu.addSeparator()
            again = menu.addAction(command.value)
            again.triggered.connect(lambda: self._rerun(command, target))
        menu.addSeparator()
        branch = menu.addAction("Branch into new chat")
        branch.triggered.connect(lambda: self.branch_requested.emit(record.id))
        delete = menu.addAction("Delete…")
        delete.triggered.connect(lambda: self.delete_requested.emit(record.id))
        return menu

    def _rerun(self, command: BarCommand, target: int) -> None:
        signal = self.retry_requested if command is BarCommand.RETRY else self.regenerate_requested
        signal.emit(target)

    def run_command(self, message_id: int, command: BarCommand, at: QPoint) -> None:
        """Do what the bubble menu's item for ``command`` does, on ``message_id`` (the
        action bar's buttons come here; ``at``: where More opens the menu)."""
        row = self._model.row_of(message_id)
        if row is None:
            return
        index = self._model.index(row)
        self.make_current(index)
        record: MessageRecord = index.data(MessageRoles.Record)
        if command is BarCommand.MORE:
            self.on_context_menu(at)
        elif command is BarCommand.COPY:
            self.copy_selected()
        elif command is BarCommand.EDIT and record.role is Role.USER:
            self.edit_requested.emit(record.id)
        else:
            rerun = rerun_of(self._model, record)
            if rerun is not None and rerun[0] is command:
                self._rerun(*rerun)

    def copy_code_block(self, message_id: int, number: int) -> bool:
        """Copy a reply's ``number``-th code block exactly as written; False if unknown."""
        row = self._model.row_of(message_id)
        doc = self._delegate.cached_document(message_id)
        if row is None or doc is None:
            return False
        record: MessageRecord = self._model.index(row).data(MessageRoles.Record)
        code = self._delegate.code_of_block(record, doc, number)
        if code is None:
            return False
        QGuiApplication.clipboard().setText(code)
        return True

    def on_context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu_for(pos)
        if menu is not None:
            menu.aboutToHide.connect(menu.deleteLater)
            menu.popup(self.viewport().mapToGlobal(pos))
