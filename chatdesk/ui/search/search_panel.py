"""The "Messages" section of the sidebar: full-text results for the search field.

Typing is debounced (``DEBOUNCE_MS``); queries run off the GUI thread
(``SearchRunner``), and only the newest request's answer is shown, so a slow query for
an old prefix never overwrites the results of what the person has typed since. While
a new query runs, the previous results stay on screen (no flicker to empty). More
results load when the list is scrolled near its end. Results follow the store: a new,
edited or deleted message re-runs the query (keeping the selection and scroll), a
thread being deleted drops its rows at once.

Choosing a result (click, Enter) emits ``message_chosen``; the window opens the thread
at that message.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPointF,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services.events import Change, ChangeKind
from chatdesk.services.records import MessageRecord
from chatdesk.services.search import SearchHit
from chatdesk.ui.list_model import Index
from chatdesk.ui.scaled_font import keep_scaled
from chatdesk.ui.search.search_model import SearchResultsModel, SearchRoles, SnippetParts
from chatdesk.ui.search.search_worker import SearchRunner
from chatdesk.ui.theme import ThemeManager
from chatdesk.vocabulary import ACTIVE_MESSAGE_STATUSES

DEBOUNCE_MS = 150
REFRESH_MS = 400
SEARCHING = "Searching…"
PAGE_SIZE = 30
MAX_REFRESH_ROWS = 200
INSET = 8
PAD = 10
SNIPPET_LINES = 2
LEAD_WORDS = 3  # words kept before a match that had to be brought into view


def ranges_for(parts: SnippetParts, fmt: QTextCharFormat) -> list[QTextLayout.FormatRange]:
    ranges = []
    for start, length in parts.bold:
        r = QTextLayout.FormatRange()
        r.start, r.length, r.format = start, length, fmt
        ranges.append(r)
    return ranges


def _snippet_layout(
    parts: SnippetParts, font: QFont, width: int, strong: QTextCharFormat | None = None
) -> tuple[QTextLayout, bool]:
    """At most ``SNIPPET_LINES`` lines of ``parts``; True when text was left over."""
    fm = QFontMetrics(font)
    layout = QTextLayout(parts.text, font)
    if strong is None:
        strong = QTextCharFormat()
        strong.setFontWeight(QFont.Weight.Bold)
    layout.setFormats(ranges_for(parts, strong))
    text_option = QTextOption()
    text_option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(text_option)
    layout.beginLayout()
    y = 0.0
    cut = False
    for n in range(SNIPPET_LINES):
        line = layout.createLine()
        if not line.isValid():
            break
        last = n == SNIPPET_LINES - 1
        line.setLineWidth(width - (fm.horizontalAdvance("…") if last else 0))
        line.setPosition(QPointF(0, y))
        y += fm.lineSpacing()
        if last and line.textStart() + line.textLength() < len(parts.text):
            cut = True
    layout.endLayout()
    return layout, cut


def fit_snippet(parts: SnippetParts, font: QFont, width: int) -> SnippetParts:
    """The snippet to show: if its first match would fall past the lines shown, start
    a few words before that match ("… words match …") so the reason for the hit shows."""
    if not parts.bold:
        return parts
    layout, cut = _snippet_layout(parts, font, width)
    last = layout.lineAt(layout.lineCount() - 1)
    shown_end = last.textStart() + last.textLength()
    first_start, first_length = parts.bold[0]
    if not cut or first_start + first_length <= shown_end:
        return parts
    words = list(re.finditer(r"\S+", parts.text[:first_start]))
    begin = words[-LEAD_WORDS].start() if len(words) >= LEAD_WORDS else 0
    if begin == 0:
        return parts
    shift = begin - 1  # one character, the ellipsis, goes in front
    return SnippetParts(
        "…" + parts.text[begin:],
        tuple((start - shift, length) for start, length in parts.bold if start >= begin),
    )


class SearchResultDelegate(QStyledItemDelegate):
    """Paints a hit: thread title and date, then two lines of snippet, matches in bold."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = theme

    @staticmethod
    def _fonts(base: QFont) -> tuple[QFont, QFont]:
        title = QFont(base)
        title.setWeight(QFont.Weight.DemiBold)
        small = QFont(base)
        small.setPointSizeF(max(base.pointSizeF() - 1.0, 7.0))
        return title, small

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        title, small = self._fonts(option.font)
        height = 8 + QFontMetrics(title).height() + 4
        height += SNIPPET_LINES * QFontMetrics(small).lineSpacing() + 10
        return QSize(0, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        c = self._theme.colors
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        row = option.rect.adjusted(INSET, 1, -INSET, -1)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.selection if selected else c.hover))
            painter.drawRoundedRect(row, 8, 8)

        title_font, small = self._fonts(option.font)
        tfm, sfm = QFontMetrics(title_font), QFontMetrics(small)
        date = str(index.data(SearchRoles.DateText) or "")
        date_w = sfm.horizontalAdvance(date)
        top = row.top() + 8
        title_rect = QRect(row.left() + PAD, top, row.width() - 2 * PAD - date_w - 8, tfm.height())
        painter.setFont(title_font)
        painter.setPen(QColor(c.text))
        painter.drawText(
            title_rect,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            tfm.elidedText(
                str(index.data(SearchRoles.ThreadTitle) or ""),
                Qt.TextElideMode.ElideRight,
                title_rect.width(),
            ),
        )
        painter.setFont(small)
        painter.setPen(QColor(c.muted))
        painter.drawText(
            QRect(row.right() - PAD - date_w, top, date_w, tfm.height()),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            date,
        )
        parts = index.data(SearchRoles.SnippetParts)
        if isinstance(parts, SnippetParts) and parts.text:
            origin = QPointF(row.left() + PAD, title_rect.bottom() + 5)
            self._paint_snippet(painter, parts, small, origin, row.width() - 2 * PAD)
        painter.restore()

    def _paint_snippet(
        self, painter: QPainter, parts: SnippetParts, font: QFont, origin: QPointF, width: int
    ) -> None:
        """Lay out at most two lines; a cut second line ends in an ellipsis."""
        c = self._theme.colors
        strong = QTextCharFormat()
        strong.setFontWeight(QFont.Weight.Bold)
        strong.setForeground(QColor(c.text))
        fm = QFontMetrics(font)
        ellipsis = "…"
        parts = fit_snippet(parts, font, width)
        layout, cut = _snippet_layout(parts, font, width, strong)
        painter.setPen(QColor(c.muted))
        layout.draw(painter, origin)
        if cut:
            end = layout.lineAt(layout.lineCount() - 1)
            painter.setFont(font)
            painter.drawText(
                QPointF(origin.x() + end.naturalTextWidth(), origin.y() + end.y() + fm.ascent()),
                ellipsis,
            )


class SearchResultsView(QListView):
    """The results list; Enter opens the current result, Up from the top leaves it.

    Signals:
        chosen: the result at this index was opened (QModelIndex).
        left_top: Up was pressed on the first row.
    """

    chosen = Signal(QModelIndex)
    left_top = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageSearchResults")
        self.setAccessibleName("Message search results")
        self.setUniformItemSizes(True)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.clicked.connect(self.chosen)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.chosen.emit(self.currentIndex())
            event.accept()
            return
        if key == Qt.Key.Key_Up and self.currentIndex().row() <= 0:
            self.left_top.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class SearchPanel(QWidget):
    """Header, results list and a status line, for the text of the sidebar's search.

    Signals:
        message_chosen: open this message (int thread id, int message id).
    """

    message_chosen = Signal(int, int)

    def __init__(
        self,
        runner: SearchRunner,
        theme: ThemeManager,
        is_hidden: Callable[[int], bool] = lambda _thread_id: False,
        parent: QWidget | None = None,
    ) -> None:
        """``is_hidden`` tells which threads to leave out (deleted, waiting for Undo)."""
        super().__init__(parent)
        self.setObjectName("messageSearch")
        self._runner = runner
        self._is_hidden = is_hidden
        self._query = ""
        self._ticket = 0  # the request whose answer is wanted (0: none)
        self._appending = False
        self._keep: tuple[int | None, int] | None = None  # selection and scroll to restore
        self.model = SearchResultsModel(self)

        self.header = QLabel("Messages", self)
        self.header.setObjectName("searchResultsHeader")
        keep_scaled(self.header, -1.5, bold=True)
        self.header.setContentsMargins(INSET + PAD, 6, 0, 2)
        self.view = SearchResultsView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegate(SearchResultDelegate(theme, self.view))
        self.status = QLabel(self)
        self.status.setObjectName("searchStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.status.setContentsMargins(16, 12, 16, 0)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.status)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_MS)
        self._connect_signals()
        self.hide()

    def _connect_signals(self) -> None:
        self._debounce.timeout.connect(self.on_debounced)
        self._refresh.timeout.connect(self.on_refresh_due)
        self._runner.finished.connect(self.on_results)
        self._runner.failed.connect(self.on_failed)
        self.view.chosen.connect(self.on_chosen)
        bar = self.view.verticalScrollBar()
        bar.valueChanged.connect(self.on_scrolled)
        bar.rangeChanged.connect(self.on_scrolled)

    # -- queries ---------------------------------------------------------------------

    @property
    def query(self) -> str:
        return self._query

    def is_searching(self) -> bool:
        """A request is out whose answer has not arrived yet."""
        return self._ticket != 0

    def has_results(self) -> bool:
        return self.model.rowCount() > 0

    # -- commands --------------------------------------------------------------------

    def set_query(self, text: str) -> None:
        """The search field changed: search for ``text`` once typing pauses."""
        query = " ".join(text.split())
        if query == self._query:
            return
        self._query = query
        self._refresh.stop()
        if not query:
            self._debounce.stop()
            self._ticket = 0
            self.model.clear()
            self.hide()
            return
        self.status.setText(SEARCHING)
        self.show()
        self._debounce.start()

    def focus_results(self) -> bool:
        """Move the keyboard into the results (first row); False if there are none."""
        if not self.isVisible() or self.model.rowCount() == 0:
            return False
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)
        index = self.view.currentIndex()
        if not index.isValid():
            index = self.model.index(0)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        return True

    def choose_first(self) -> bool:
        """Open the newest result, if there is one (Enter in the search field)."""
        if self.model.rowCount() == 0:
            return False
        self.on_chosen(self.model.index(0))
        return True

    def refresh(self) -> None:
        """Run the query again soon, e.g. because messages changed."""
        if self._query:
            self._refresh.start()

    def drop_thread(self, thread_id: int) -> None:
        """Hide a thread's results at once (it is being deleted)."""
        self.model.remove_thread(thread_id)
        self._show_state()

    # -- slots -----------------------------------------------------------------------

    def on_debounced(self) -> None:
        self._keep = None
        self._submit(PAGE_SIZE)

    def on_refresh_due(self) -> None:
        if not self._query:
            return
        if self._ticket:  # a search is out: try again once it has answered
            self.refresh()
            return
        current = self.view.currentIndex()
        message_id = current.data(SearchRoles.MessageId) if current.isValid() else None
        self._keep = (message_id, self.view.verticalScrollBar().value())
        self._submit(min(max(self.model.rowCount(), PAGE_SIZE), MAX_REFRESH_ROWS))

    def _submit(self, limit: int, before_id: int | None = None) -> None:
        self._appending = before_id is not None
        if not self._appending:
            self.status.setText(SEARCHING)
        self._ticket = self._runner.submit(self._query, limit=limit, before_id=before_id)

    def on_results(self, ticket: int, hits: list[SearchHit], has_more: bool) -> None:
        if ticket != self._ticket:
            return  # an answer to a query the person has typed past
        self._ticket = 0
        hits = [hit for hit in hits if not self._is_hidden(hit.thread_id)]
        if self._appending:
            self.model.append_hits(hits, has_more)
        else:
            self.model.set_hits(self._query, hits, has_more)
            self._restore()
        self._show_state()  # the scroll bar's rangeChanged asks for more once laid out

    def on_failed(self, ticket: int, reason: str) -> None:
        if ticket != self._ticket:
            return
        self._ticket = 0
        self.model.clear()
        self.status.setText(reason)
        self.stack.setCurrentWidget(self.status)

    def on_scrolled(self, *_args: object) -> None:
        """Near the end of the list: fetch the next page."""
        bar = self.view.verticalScrollBar()
        near_end = bar.value() >= bar.maximum() - self.view.viewport().height()
        if near_end and self.model.has_more and not self._ticket and self._query:
            self._submit(PAGE_SIZE, before_id=self.model.last_message_id())

    def on_chosen(self, index: QModelIndex) -> None:
        if index.isValid():
            self.message_chosen.emit(
                int(index.data(SearchRoles.ThreadId)), int(index.data(SearchRoles.MessageId))
            )

    def on_message_changed(self, change: Change) -> None:
        """Re-run the query when a message appears, goes, or a reply ends (not per chunk)."""
        record = change.record
        streaming = (
            change.kind is ChangeKind.UPDATED
            and isinstance(record, MessageRecord)
            and record.status in ACTIVE_MESSAGE_STATUSES
        )
        if not streaming:
            self.refresh()

    def on_thread_changed(self, change: Change) -> None:
        if change.kind is ChangeKind.DELETED:
            self.drop_thread(change.id)
        if change.kind is ChangeKind.DELETED or "title" in change.fields:
            self.refresh()

    # -- helpers ---------------------------------------------------------------------

    def _restore(self) -> None:
        keep, self._keep = self._keep, None
        if keep is None:
            self.view.scrollToTop()
            return
        message_id, scroll = keep
        row = self.model.row_of(message_id) if message_id is not None else None
        if row is not None:
            self.view.selectionModel().setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        self.view.verticalScrollBar().setValue(scroll)

    def _show_state(self) -> None:
        """The results, or why there are none; ``searchStatus`` says either way (done)."""
        count = self.model.rowCount()
        if count > 0:
            more = "+" if self.model.has_more else ""
            noun = "message matches" if count == 1 and not more else "messages match"
            self.status.setText(f"{count:,}{more} {noun} “{self._query}”.")
            self.stack.setCurrentWidget(self.view)
            return
        self.status.setText(f"No messages match “{self._query}”.")
        self.stack.setCurrentWidget(self.status)


class SearchKeys(QObject):
    """Arrow keys through the sidebar while searching: field, matching chats, messages.

    Down in the search field goes to the first matching chat, or to the message results
    when no chat matches; Down on the last chat continues into the message results; Up
    on the first result goes back to the chats (or the field).
    """

    def __init__(self, field: QWidget, chats: QListView, panel: SearchPanel) -> None:
        super().__init__(panel)
        self._field, self._chats, self._panel = field, chats, panel
        field.installEventFilter(self)
        chats.installEventFilter(self)
        panel.view.left_top.connect(self.on_left_results)

    def _chats_shown(self) -> bool:
        model = self._chats.model()
        return self._chats.isVisible() and model is not None and model.rowCount() > 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if (
            event.key() != Qt.Key.Key_Down
            or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            return False
        if watched is self._field:
            if self._chats_shown():
                self._chats.setFocus(Qt.FocusReason.OtherFocusReason)
                if not self._chats.currentIndex().isValid():
                    self._chats.setCurrentIndex(self._chats.model().index(0, 0))
                return True
            return self._panel.focus_results()
        if watched is self._chats and self._panel.isVisible():
            model = self._chats.model()
            if self._chats.currentIndex().row() == model.rowCount() - 1:
                return self._panel.focus_results()
        return False

    def on_left_results(self) -> None:
        target = self._chats if self._chats_shown() else self._field
        target.setFocus(Qt.FocusReason.OtherFocusReason)
