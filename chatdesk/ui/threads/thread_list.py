"""The sidebar: New chat, search, and the thread list with date group headers.

Rows are painted by ``ThreadDelegate`` (title, time, one-line preview); a group header
(Pinned, Today, Yesterday, Previous 7 days, Older) is painted above the first row of
each group, computed from the ``group`` role of the row above, so grouping follows
filtering and moves without extra model rows. Typing in the search field filters
titles in the store (the model holds only the pages read so far, so there is no proxy
over it). The open chat stays open while the list is filtered. Titles are renamed in
place (F2 or double-click) through the model's ``setData``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from chatdesk.ui.list_model import Index
from chatdesk.ui.scaled_font import scaled
from chatdesk.ui.theme import ThemeManager
from chatdesk.ui.threads.thread_model import ThreadListModel, ThreadRoles

ROW_HEIGHT = 54
HEADER_HEIGHT = 30
INSET = 8
PAD = 10


class _RowFonts:
    """The fonts of a row, derived from the view's font, and the heights they need."""

    def __init__(self, base: QFont) -> None:
        self.title = QFont(base)
        self.small = scaled(base, -1.0)
        self.header = scaled(base, -1.5, bold=True)
        self.title_metrics = QFontMetrics(self.title)
        self.small_metrics = QFontMetrics(self.small)

    def row_height(self) -> int:
        """At least ``ROW_HEIGHT``; more when a bigger text size needs it."""
        needed = 8 + self.title_metrics.height() + 2 + 3 + self.small_metrics.height() + 2 + 8
        return max(ROW_HEIGHT, needed)

    def header_height(self) -> int:
        return max(HEADER_HEIGHT, 8 + QFontMetrics(self.header).height() + 8)


@dataclass(frozen=True)
class _RowLayout:
    fonts: _RowFonts
    header: QRect
    row: QRect
    title: QRect
    time: QRect
    time_text: str
    preview: QRect


def _group_starts(index: Index) -> bool:
    model = index.model()
    return isinstance(model, ThreadListModel) and model.starts_group(index.row())


class ThreadDelegate(QStyledItemDelegate):
    """Paints one thread row, with its group header when it starts a group."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = theme
        self._fonts: dict[str, _RowFonts] = {}

    def _fonts_for(self, base: QFont) -> _RowFonts:
        """The row fonts for the view's font, made once per font (sizeHint runs per row)."""
        key = base.key()
        fonts = self._fonts.get(key)
        if fonts is None:
            fonts = self._fonts[key] = _RowFonts(base)
        return fonts

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        fonts = self._fonts_for(option.font)
        height = fonts.row_height() + (fonts.header_height() if _group_starts(index) else 0)
        return QSize(0, height)  # the view gives every row its full width

    def _layout(self, rect: QRect, option: QStyleOptionViewItem, index: Index) -> _RowLayout:
        """Where each part of a row goes: one place for painting and for the rename editor."""
        fonts = self._fonts_for(option.font)
        top = rect.top() + (fonts.header_height() if _group_starts(index) else 0)
        row = QRect(rect.left() + INSET, top + 1, rect.width() - 2 * INSET, fonts.row_height() - 2)
        time_text = str(index.data(ThreadRoles.TimeText) or "")
        time_w = fonts.small_metrics.horizontalAdvance(time_text)
        title_h = fonts.title_metrics.height() + 2
        title = QRect(row.left() + PAD, row.top() + 8, 0, title_h)
        title.setRight(row.right() - PAD - time_w - 8)
        time = QRect(row.right() - PAD - time_w, title.top(), time_w, title_h)
        preview = QRect(
            row.left() + PAD,
            title.bottom() + 3,
            row.width() - 2 * PAD,
            fonts.small_metrics.height() + 2,
        )
        header = QRect(
            rect.left() + INSET + PAD, rect.top() + 8, rect.width(), fonts.header_height() - 8
        )
        return _RowLayout(fonts, header, row, title, time, time_text, preview)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        c = self._theme.colors
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        layout = self._layout(option.rect, option, index)
        fonts = layout.fonts
        if _group_starts(index):
            painter.setFont(fonts.header)
            painter.setPen(QColor(c.muted))
            painter.drawText(
                layout.header,
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                str(index.data(ThreadRoles.Group) or ""),
            )
        row = layout.row
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.selection if selected else c.hover))
            painter.drawRoundedRect(row, 8, 8)

        title_font = QFont(fonts.title)
        title_font.setWeight(QFont.Weight.DemiBold if selected else QFont.Weight.Medium)
        title = layout.title
        painter.setFont(title_font)
        painter.setPen(QColor(c.text))
        tfm = QFontMetrics(title_font)
        painter.drawText(
            title,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            tfm.elidedText(
                str(index.data(ThreadRoles.Title) or ""), Qt.TextElideMode.ElideRight, title.width()
            ),
        )
        painter.setFont(fonts.small)
        painter.setPen(QColor(c.muted))
        painter.drawText(
            layout.time,
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            layout.time_text,
        )

        sfm = fonts.small_metrics
        preview = str(index.data(ThreadRoles.Preview) or "")
        preview_rect = QRect(layout.preview)
        draft = preview.startswith("Draft: ")
        if draft:
            painter.setPen(QColor(c.accent))
            label = "Draft: "
            painter.drawText(
                preview_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), label
            )
            preview_rect.setLeft(preview_rect.left() + sfm.horizontalAdvance(label))
            preview = preview[len(label) :]
            painter.setPen(QColor(c.muted))
        painter.drawText(
            preview_rect,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            sfm.elidedText(preview, Qt.TextElideMode.ElideRight, preview_rect.width()),
        )
        painter.restore()

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        """A plain line edit: Qt's default one widens with the text, over the chat's time."""
        editor = QLineEdit(parent)
        editor.setFrame(True)
        editor.setAccessibleName("Chat title")
        return editor

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        if isinstance(editor, QLineEdit):
            editor.setText(str(index.data(Qt.ItemDataRole.EditRole) or ""))
            editor.selectAll()

    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> None:
        """Over the title only: the chat's time stays readable beside the editor."""
        title = self._layout(option.rect, option, index).title
        editor.setGeometry(title.adjusted(-4, -3, 4, 3))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        if isinstance(editor, QLineEdit) and editor.text().strip():
            model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)


LAYOUT_BATCH = 100


class ThreadListView(QListView):
    """The list itself; re-lays out rows when groups can have changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("threadList")
        self.setAccessibleName("Chats")
        self.setUniformItemSizes(False)
        # Rows are laid out a batch per event-loop turn: chats arriving by the dozen (an
        # import) cost ~5 ms a turn with 1,500 rows listed, not a 35 ms re-layout of all.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(LAYOUT_BATCH)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        if model is not None:
            model.rowsMoved.connect(self.on_layout_may_change)
            model.rowsInserted.connect(self.on_layout_may_change)
            model.rowsRemoved.connect(self.on_layout_may_change)
            model.layoutChanged.connect(self.on_layout_may_change)

    def on_layout_may_change(self, *_args: object) -> None:
        """Rows moved: the group headers (and so row heights) around them may change."""
        self.scheduleDelayedItemsLayout()

    def dataChanged(
        self,
        topLeft: Index,
        bottomRight: Index,
        roles: Sequence[int] = (),
    ) -> None:
        """Repaint changed rows; re-lay out only when a group label changed.

        QListView re-measures every loaded row on any ``dataChanged`` (its list mode
        cannot know a row kept its height). Here a row's height depends only on
        whether it starts a date group, so a new preview, title or time, which a
        reply brings several times, needs a repaint, not 400 ``sizeHint`` calls.
        """
        if not roles or ThreadRoles.Group in roles:
            super().dataChanged(topLeft, bottomRight, roles)
        else:
            QAbstractItemView.dataChanged(self, topLeft, bottomRight, roles)


class ThreadListPanel(QWidget):
    """New chat button, search field, thread list and its empty state.

    Signals:
        current_thread_changed: the selected thread (int id, 0 for none).
        new_thread_requested: New chat was clicked.
        rename_requested / pin_toggle_requested / delete_requested: from the
            context menu (int thread id).
    """

    current_thread_changed = Signal(int)
    new_thread_requested = Signal()
    rename_requested = Signal(int)
    pin_toggle_requested = Signal(int)
    delete_requested = Signal(int)

    def __init__(
        self, model: ThreadListModel, theme: ThemeManager, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.model = model

        self.new_button = QPushButton("+  New chat", self)
        self.new_button.setObjectName("newThreadButton")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("Start a new chat (Ctrl+N)")
        self.new_button.setCursor(Qt.CursorShape.PointingHandCursor)

        self.search = QLineEdit(self)
        self.search.setObjectName("threadSearch")
        self.search.setAccessibleName("Search chats")
        self.search.setPlaceholderText("Search chats  (Ctrl+K)")
        self.search.setClearButtonEnabled(True)

        self.view = ThreadListView(self)
        self.view.setModel(model)
        self.view.setItemDelegate(ThreadDelegate(theme, self.view))

        self.empty = QLabel(self)
        self.empty.setObjectName("threadListEmpty")
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty.setWordWrap(True)
        self.empty.setContentsMargins(16, 24, 16, 0)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 6)
        layout.setSpacing(8)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.stack, 1)
        self.results: QWidget | None = None
        self._open_id: int | None = None  # the thread last announced as current
        self._quiet = False  # filtering moves the list's current row; that opens nothing
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self.on_fit_chats)
        self.setMinimumWidth(200)
        self._connect_signals()
        self.on_rows_changed()

    def _connect_signals(self) -> None:
        self.new_button.clicked.connect(self.new_thread_requested)
        self.search.textChanged.connect(self.on_search_text_changed)
        self.view.selectionModel().currentChanged.connect(self.on_current_changed)
        self.view.customContextMenuRequested.connect(self.on_context_menu)
        for signal in (
            self.model.rowsInserted,
            self.model.rowsRemoved,
            self.model.modelReset,
            self.model.layoutChanged,
        ):
            signal.connect(self.on_rows_changed)

    # -- queries ---------------------------------------------------------------------

    def current_thread_id(self) -> int | None:
        index = self.view.currentIndex()
        value = index.data(ThreadRoles.ThreadId) if index.isValid() else None
        return int(value) if value else None

    def index_of(self, thread_id: int) -> QModelIndex:
        """The thread's index, paging the list on until it is read; invalid if not listed."""
        row = self.model.ensure_loaded(thread_id)
        return QModelIndex() if row is None else self.model.index(row)

    # -- commands --------------------------------------------------------------------

    def select_thread(self, thread_id: int | None) -> bool:
        """Make ``thread_id`` current (clearing the search if it hides it).

        A thread too far down to read up to is opened without a selected row.
        """
        if thread_id is None:
            self.view.selectionModel().clearCurrentIndex()
            self.view.clearSelection()
            return True
        index = self.index_of(thread_id)
        if not index.isValid() and self.model.title_filter:
            self.search.clear()
            index = self.index_of(thread_id)
        if not index.isValid():
            return self._open_unlisted(thread_id)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.view.scrollTo(index)
        return True

    def open_thread(self, thread_id: int) -> bool:
        """Make ``thread_id`` current, keeping the search even if it hides the thread."""
        if not self.model.title_filter or self.index_of(thread_id).isValid():
            return self.select_thread(thread_id)
        return self._open_unlisted(thread_id)

    def _open_unlisted(self, thread_id: int) -> bool:
        """Announce a thread that has no row (filtered out or not read yet) as current."""
        if self.model.is_hidden(thread_id) or self.model.record(thread_id) is None:
            return False
        self._quiet = True
        try:
            self.view.selectionModel().clear()
        finally:
            self._quiet = False
        self._open_id = thread_id
        self.current_thread_changed.emit(thread_id)
        return True

    def add_results(self, results: QWidget) -> None:
        """Show ``results`` (message search) below the chats while the search has text."""
        self.results = results
        cast(QVBoxLayout, self.layout()).addWidget(results, 2)

    def start_rename(self, thread_id: int) -> None:
        index = self.index_of(thread_id)
        if index.isValid():
            self.view.setCurrentIndex(index)
            self.view.edit(index)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- slots -----------------------------------------------------------------------

    def on_search_text_changed(self, text: str) -> None:
        self._quiet = True
        try:
            self.model.set_title_filter(text)
            row = self.model.row_of(self._open_id) if self._open_id else None
            index = self.model.index(row) if row is not None else QModelIndex()
            selection = self.view.selectionModel()
            if index.isValid():
                selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            else:
                selection.clear()
        finally:
            self._quiet = False
        self.on_rows_changed()

    def on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._quiet:
            return
        value = current.data(ThreadRoles.ThreadId) if current.isValid() else None
        self._open_id = int(value or 0) or None
        self.current_thread_changed.emit(int(value or 0))

    def on_rows_changed(self, *_args: object) -> None:
        self.stack.setMaximumHeight(16777215)
        if self.model.rowCount() > 0:
            self.stack.setCurrentWidget(self.view)
            if self.search.text().strip() and self.results is not None:
                self._fit_timer.start()  # once filtering has settled, not per removed range
            return
        query = self.search.text().strip()
        self.empty.setText(f"No chats match “{query}”." if query else "No chats yet.")
        self.stack.setCurrentWidget(self.empty)
        if query and self.results is not None:
            # Messages are searched too: "no chats match" takes one line, not a third.
            self.stack.setMaximumHeight(self.empty.sizeHint().height())

    def on_fit_chats(self) -> None:
        """While messages are searched too, a few matching chats take only their height."""
        if not (self.search.text().strip() and self.results is not None):
            return
        if self.model.rowCount() > 0:
            rows = range(min(self.model.rowCount(), 8))
            height = sum(self.view.sizeHintForRow(row) for row in rows)
            self.stack.setMaximumHeight(max(height + 4, ROW_HEIGHT))

    def on_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        thread_id = int(index.data(ThreadRoles.ThreadId))
        pinned = bool(index.data(ThreadRoles.Pinned))
        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.rename_requested.emit(thread_id))
        menu.addAction(
            "Unpin" if pinned else "Pin", lambda: self.pin_toggle_requested.emit(thread_id)
        )
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete_requested.emit(thread_id))
        menu.popup(self.view.viewport().mapToGlobal(pos))
