"""Paints chat bubbles; no widget per message.

Each message's text is laid out once into a ``SafeTextDocument`` and cached (keyed by
message id, with the content hash, role, theme and font checked on use; a new width
only re-wraps the cached document). Painting and size hints reuse that layout, so
scrolling never re-parses Markdown. The status line (Waiting..., animated dots while
a reply streams, the time, an error with Retry, Stopped) is drawn under the text.

Clicks are turned into signals: a link reports its URL (the window decides whether
to open it), Retry reports the user message to send again.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontInfo,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QTextCursor,
    QTextDocument,
    QTextFrame,
    QTextTable,
)
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from chatdesk.services.records import MessageRecord
from chatdesk.ui.chat.attachment_chips import size_label
from chatdesk.ui.chat.bubble_parts import (
    ROW_SPACING,
    BarLayer,
    BubbleGeometry,
    TextLayer,
    Thumbnails,
    status_font,
)
from chatdesk.ui.chat.citations import CitationLink, citations_of
from chatdesk.ui.chat.markdown_render import (
    SafeTextDocument,
    build_document,
    code_blocks,
    display_text,
    render_markdown,
    render_plain,
    settled_text,
    worth_markdown,
)
from chatdesk.ui.chat.math_images import MATH_SCALE, BubbleFormulas, MathImages
from chatdesk.ui.chat.math_render import FormulaLook
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.chat.message_notes import bubble_text, model_of
from chatdesk.ui.chat.tool_line import tool_summary
from chatdesk.ui.chat.usage_line import usage_text
from chatdesk.ui.list_model import Index
from chatdesk.ui.theme import Colors, ThemeManager, user_bubble_colors
from chatdesk.ui.time_format import message_time
from chatdesk.vocabulary import RETRYABLE_MESSAGE_STATUSES, AttachmentKind, MessageStatus, Role

SIDE_MARGIN = 20
COLUMN_MAX = 920
USER_FRACTION = 0.78
PAD_X = 14
PAD_Y = 10
GAP = 5
RADIUS = 14.0
CACHE_SIZE = 600
RETRY_TEXT = "Retry"
RETRY_GAP = "   "
DOTS = ("•  ", "•• ", "•••")
FILE_W = 180
"""The width of a file chip in a bubble (narrower when the bubble is)."""
FILE_GAP = 6
FILE_THUMB = 36
"""The side of an attached image's picture in its bubble chip."""
CITE_GAP = 10
"""Room between two citation links on a line."""


@dataclass
class _Layout:
    key: tuple[object, ...]
    doc: SafeTextDocument | None
    width: float
    size: tuple[float, float] = (0.0, 0.0)  # ideal width and height at ``width``

    def measure(self) -> tuple[float, float]:
        """The laid-out size, computed once per width (``idealWidth`` walks every line)."""
        if self.doc is not None and self.size == (0.0, 0.0):
            self.size = (self.doc.idealWidth(), self.doc.size().height())
        return self.size


@dataclass(frozen=True)
class _Parts:
    """What painting one bubble needs besides its document, for a row at y = 0."""

    geo: BubbleGeometry
    status: StatusLine
    shown: str  # the status text as it fits


@dataclass(frozen=True)
class StatusLine:
    """What a bubble's status line says, and how."""

    text: str
    color: str
    retry: bool
    widest: str  # the text whose width the bubble reserves (stable while dots animate)
    tools: bool = False  # it names the run's tool calls: a click opens Run details
    origin: bool = False  # it names the chat this one branched from: a click opens it


class MessageDelegate(QStyledItemDelegate):
    """Bubbles for ``MessageListModel`` rows in a ``QListView``.

    Signals:
        link_activated: a link in a message was clicked (str URL, not yet vetted).
        retry_clicked: Retry was clicked; the user message id to send again (int).
        tools_clicked: the "Used …" line of a reply was clicked (its message id).
        version_clicked: an arrow of a bubble's ``‹ 2 / 3 ›`` was clicked (message id,
            -1 or +1).
        origin_clicked: "Branched from …" was clicked (the original chat's id, and the
            message's id there).
    """

    link_activated = Signal(str)
    retry_clicked = Signal(int)
    attachment_clicked = Signal(int, int)
    citation_clicked = Signal(int, int)
    tools_clicked = Signal(int)
    version_clicked = Signal(int, int)
    origin_clicked = Signal(int, int)

    def __init__(self, view: QAbstractItemView, theme: ThemeManager) -> None:
        super().__init__(view)
        self._view = view
        self._theme = theme
        self._cache: OrderedDict[int, _Layout] = OrderedDict()
        self.engine_starting = False
        """The crew worker is starting: a reply not begun says so instead of "Thinking"."""
        self.awaiting_approval: int | None = None
        """The reply whose run waits for the person to allow a tool call."""
        self._sizes: dict[int, tuple[tuple[object, ...], tuple[float, float]]] = {}
        # Row sizes and painted parts of completed messages, valid while the record
        # object is the same (a completed bubble's looks depend on nothing else but
        # the width, theme, font and, for its time, the day).
        self._row_sizes: dict[int, tuple[MessageRecord, tuple[object, ...], QSize]] = {}
        self._reserved: tuple[QPersistentModelIndex, int] | None = None
        self._parts: dict[int, tuple[MessageRecord, tuple[object, ...], _Parts]] = {}
        self._pressed_anchor: str | None = None
        self.frame = 0
        self.flash_id: int | None = None  # a message just revealed, glowing as it fades
        self.flash_level = 0.0
        self.text_layer: TextLayer | None = None  # paints selections, wide code
        self.action_bar: BarLayer | None = None  # hover bar and code blocks' Copy
        self.thumbnails: Thumbnails | None = None  # attached images' small pictures
        self.math: MathImages | None = None  # formulas' pictures (None: shown as LaTeX)
        self._math_waiting: set[int] = set()  # laid out while a formula was being drawn
        theme.changed.connect(self.on_theme_changed)

    # -- layout ----------------------------------------------------------------------

    @property
    def colors(self) -> Colors:
        return self._theme.colors

    def on_theme_changed(self, _colors: object) -> None:
        self.clear_cache()
        self._view.scheduleDelayedItemsLayout()  # fonts and code blocks may change size
        self._view.viewport().update()

    def clear_cache(self) -> None:
        self._math_waiting.clear()
        self._cache.clear()
        self._sizes.clear()
        self._row_sizes.clear()
        self._parts.clear()

    def cached_document(self, message_id: int) -> SafeTextDocument | None:
        """The cached layout of a message, if it has been laid out (tests look here)."""
        entry = self._cache.get(message_id)
        return entry.doc if entry else None

    def _status_font(self, font: QFont) -> QFont:
        return status_font(font)

    def _retry_font(self, font: QFont) -> QFont:
        link_font = self._status_font(font)
        link_font.setUnderline(True)
        link_font.setBold(True)
        return link_font

    def _column(self, width: int) -> tuple[int, int]:
        """Left x and width of the centred chat column."""
        avail = max(width - 2 * SIDE_MARGIN, 120)
        col = min(avail, COLUMN_MAX)
        return SIDE_MARGIN + (avail - col) // 2, col

    def _max_bubble(self, m: MessageRecord, col: int) -> int:
        return int(col * USER_FRACTION) if m.role is Role.USER else col

    def _document(self, m: MessageRecord, text_width: float, font: QFont) -> _Layout | None:
        text = bubble_text(m)
        if not text.strip():
            return None
        c = self.colors
        finished = m.role is Role.USER or m.status is MessageStatus.COMPLETED
        key = (hash(text), m.role, finished, c.dark, font.key())
        entry = self._cache.get(m.id)
        if entry is not None and entry.key == key:
            self._cache.move_to_end(m.id)
            if entry.doc is not None and entry.width != text_width:
                entry.doc.setTextWidth(text_width)
                entry.width = text_width
                entry.size = (0.0, 0.0)
            return entry
        shown = display_text(text if finished else settled_text(text))
        link = c.user_link if m.role is Role.USER else c.link
        formulas = self._formulas(m, font)
        if not worth_markdown(shown):
            html_text = render_plain(shown)
        elif m.role is Role.USER:  # the person's Markdown too, inert as a reply's
            html_text = render_markdown(shown, user_bubble_colors(c), formulas)
        else:
            html_text = render_markdown(shown, c, formulas)
        pictures = formulas.pictures if formulas is not None else ()
        doc = build_document(html_text, font, text_width, link, pictures=pictures)
        if formulas is not None and formulas.waiting:
            self._math_waiting.add(m.id)
        else:
            self._math_waiting.discard(m.id)
        entry = _Layout(key, doc, text_width)
        self._cache[m.id] = entry
        self._cache.move_to_end(m.id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    def _formulas(self, m: MessageRecord, font: QFont) -> BubbleFormulas | None:
        """What ``m``'s formulas become: pictures in its text's colour and size."""
        if self.math is None:
            return None
        color = self.colors.user_text if m.role is Role.USER else self.colors.text
        size = QFontInfo(font).pixelSize()
        ratio = self._view.devicePixelRatioF()
        return BubbleFormulas(self.math, FormulaLook(color, size * MATH_SCALE, ratio))

    def on_formulas_ready(self) -> None:
        """Formula pictures came in: lay out again the bubbles that waited for them."""
        waiting, self._math_waiting = self._math_waiting, set()
        for message_id in waiting:
            self._cache.pop(message_id, None)
            self._sizes.pop(message_id, None)
            self._row_sizes.pop(message_id, None)
            self._parts.pop(message_id, None)
        if waiting:
            self._view.scheduleDelayedItemsLayout()
            self._view.viewport().update()

    def status_line(self, index: Index) -> StatusLine:
        """The line under a bubble's text: its state or time, after ``‹ 2 / 3 ›`` when
        the message has versions (a click on an arrow shows the one before or after)."""
        line = self._status_body(index)
        m: MessageRecord = index.data(MessageRoles.Record)
        origin = branch_origin(m)
        if origin is not None and not line.tools:
            words = f"Branched from “{one_line_title(origin[2])}” · "
            line = dataclasses.replace(
                line, text=words + line.text, widest=words + line.widest, origin=True
            )
        prefix = version_label(index)
        if not prefix:
            return line
        return dataclasses.replace(
            line,
            text=f"{prefix}{VERSION_GAP}{line.text}",
            widest=f"{prefix}{VERSION_GAP}{line.widest}",
        )

    def version_step_at(self, option_rect: QRect, index: Index, font: QFont, pos: QPointF) -> int:
        """-1 or +1 when ``pos`` is on the ‹ or › of the bubble's version label, else 0."""
        prefix = version_label(index)
        if not prefix:
            return 0
        geo = self.geometry(option_rect, index, font)
        if not geo.status.adjusted(-4, -4, 4, 4).contains(pos):
            return 0
        left, _right = self.status_span(option_rect, index, font)
        sfm = QFontMetrics(self._status_font(font))
        back_end = left + sfm.horizontalAdvance(prefix[:2]) + 2
        forward_start = left + sfm.horizontalAdvance(prefix[:-1]) - 2
        forward_end = left + sfm.horizontalAdvance(prefix) + 4
        if left - 6 <= pos.x() <= back_end:
            return -1
        if forward_start <= pos.x() <= forward_end:
            return 1
        return 0

    def _status_body(self, index: Index) -> StatusLine:
        m: MessageRecord = index.data(MessageRoles.Record)
        c = self.colors
        muted = c.user_muted if m.role is Role.USER else c.muted
        dots = DOTS[self.frame % len(DOTS)]
        if m.status is MessageStatus.PENDING:
            return StatusLine("Waiting…", muted, False, "Waiting…")
        if m.status is MessageStatus.PROCESSING:
            if m.role is Role.USER:
                t = message_time(m.created_at)
                return StatusLine(t, muted, False, t)
            if m.id == self.awaiting_approval:
                text = "Waiting for you to allow a tool ↓"
                return StatusLine(text, muted, False, text)
            if m.content.strip():
                word = "Writing "
            elif self.engine_starting:  # the crew worker is still loading CrewAI
                word = "Starting the engine "
            else:
                word = "Thinking "
            return StatusLine(word + dots, muted, False, word + DOTS[-1])
        retry = bool(index.data(MessageRoles.CanRetry))
        if m.role is Role.USER and m.status in RETRYABLE_MESSAGE_STATUSES and not retry:
            t = message_time(m.created_at)  # its reply bubble tells what happened
            return StatusLine(t, muted, False, t)
        if m.status is MessageStatus.FAILED:
            error = str(index.data(MessageRoles.Error) or "Failed")
            error = " ".join(error.split())
            color = c.user_muted if m.role is Role.USER else c.error
            return StatusLine(error, color, retry, error)
        used = tool_summary(m.metadata) if m.role is Role.ASSISTANT else ""
        spent = usage_text(index.data(MessageRoles.Usage))
        if m.status is MessageStatus.CANCELLED:
            text = " · ".join(part for part in (used, "Stopped", spent) if part)
            return StatusLine(text, muted, retry, text, tools=bool(used))
        t = message_time(m.created_at)
        if used:
            t = f"{used} · {t}"
        elif m.role is Role.ASSISTANT and (model := model_of(m.metadata)):
            t = f"{model} · {t}"  # a reply imported from another app names its model
        if spent:  # the run's tokens and cost, after the time
            t = f"{t} · {spent}"
        return StatusLine(t, muted, False, t, tools=bool(used))

    def _text_size(
        self, m: MessageRecord, text_width: float, font: QFont, need_doc: bool
    ) -> tuple[float, float] | None:
        """Ideal width and height of a message's text at ``text_width`` (None: no text).

        Sizes are kept for every message laid out, documents only for the last
        ``CACHE_SIZE``: a re-layout of thousands of rows (after a page of history
        comes in) then reads sizes instead of rebuilding documents.
        """
        if not bubble_text(m).strip():
            return None
        key = self._size_key(m, text_width, font)
        known = self._sizes.get(m.id)
        if not need_doc and known is not None and known[0] == key:
            return known[1]
        layout = self._document(m, text_width, font)
        if layout is None:
            return None
        size = layout.measure()
        self._sizes[m.id] = (key, size)
        return size

    def prepare(self, m: MessageRecord, font: QFont) -> bool:
        """Lay out ``m``'s text ahead of its row (idle time); True if that took work.

        A page of history then comes in with its sizes and documents ready, so the
        frame that shows it only positions rows.
        """
        if not bubble_text(m).strip():
            return False
        text_width = self._text_width(m)
        known = self._sizes.get(m.id)
        if known is not None and known[0] == self._size_key(m, text_width, font):
            return False
        self._text_size(m, text_width, font, need_doc=False)
        return True

    def _text_width(self, m: MessageRecord) -> int:
        """How wide ``m``'s text wraps in the current viewport."""
        col = self._column(self._view.viewport().width())[1]
        return max(self._max_bubble(m, col) - 2 * PAD_X, 40)

    def _size_key(self, m: MessageRecord, text_width: float, font: QFont) -> tuple[object, ...]:
        return (hash(bubble_text(m)), m.role, self.colors.dark, font.key(), text_width)

    def geometry(
        self, option_rect: QRect, index: Index, font: QFont, need_doc: bool = True
    ) -> BubbleGeometry:
        """The bubble, text, status and Retry rectangles of ``index`` in ``option_rect``.

        ``need_doc=False`` (sizing only) may answer from known sizes without a document.
        """
        m: MessageRecord = index.data(MessageRoles.Record)
        col_x, col = self._column(self._view.viewport().width())
        text_width = self._text_width(m)
        text_size = self._text_size(m, text_width, font, need_doc)
        sfm = QFontMetrics(self._status_font(font))
        status = self.status_line(index)
        rfm = QFontMetrics(self._retry_font(font))
        retry_w = sfm.horizontalAdvance(RETRY_GAP) + rfm.horizontalAdvance(RETRY_TEXT) + 2
        retry_w = retry_w if status.retry else 0
        status_w = min(sfm.horizontalAdvance(status.widest) + retry_w + 2, text_width)
        if text_size is not None:
            ideal_w, doc_h = text_size
            doc_w = min(ideal_w, text_width)
        else:
            doc_w, doc_h = 0.0, 0.0
        files = len(m.attachments)
        file_w = float(min(FILE_W, text_width))
        pictures = any(file.kind is AttachmentKind.IMAGE for file in m.attachments)
        file_h = float(max(sfm.height() + 10, FILE_THUMB + 6 if pictures else 0))
        per_row = max(1, int((text_width + FILE_GAP) // (file_w + FILE_GAP)))
        files_w = min(files, per_row) * (file_w + FILE_GAP) - FILE_GAP if files else 0.0
        files_h = -(-files // per_row) * (file_h + FILE_GAP) - FILE_GAP if files else 0.0
        cites = _citation_places(self.citations(m), sfm, text_width)
        cites_w = max((x + w for x, _row, w in cites), default=0.0)
        cites_h = (max(row for _x, row, _w in cites) + 1) * sfm.height() if cites else 0.0
        inner_w = max(doc_w, status_w, files_w, cites_w, 24)
        bubble_w = inner_w + 2 * PAD_X
        status_h = sfm.height()
        text_h = doc_h + GAP if text_size is not None else 0
        inner_h = text_h + (files_h + GAP if files else 0) + (cites_h + GAP if cites else 0)
        inner_h += status_h
        bubble_h = inner_h + 2 * PAD_Y
        top = option_rect.top() + ROW_SPACING
        left = col_x + col - bubble_w if m.role is Role.USER else col_x
        bubble = QRectF(left, top, bubble_w, bubble_h)
        text = QRectF(left + PAD_X, top + PAD_Y, inner_w, doc_h)
        status_rect = QRectF(left + PAD_X, top + PAD_Y + inner_h - status_h, inner_w, status_h)
        retry = None
        if status.retry:
            rw = rfm.horizontalAdvance(RETRY_TEXT) + 2
            retry = QRectF(status_rect.right() - rw, status_rect.top(), rw, status_h)
        chips = tuple(
            QRectF(
                left + PAD_X + (n % per_row) * (file_w + FILE_GAP),
                top + PAD_Y + text_h + (n // per_row) * (file_h + FILE_GAP),
                file_w,
                file_h,
            )
            for n in range(files)
        )
        cites_top = top + PAD_Y + text_h + (files_h + GAP if files else 0)
        links = tuple(
            QRectF(left + PAD_X + x, cites_top + row * sfm.height(), w, sfm.height())
            for x, row, w in cites
        )
        return BubbleGeometry(bubble, text, status_rect, retry, chips, links)

    @staticmethod
    def citations(m: MessageRecord) -> tuple[CitationLink, ...]:
        """The document places a reply was shown (links under it); none for others."""
        return citations_of(m.metadata) if m.role is Role.ASSISTANT else ()

    def status_span(self, option_rect: QRect, index: Index, font: QFont) -> tuple[float, float]:
        """Left and right x of the status line's ink (its text, and Retry if shown)."""
        geo = self.geometry(option_rect, index, font)
        status = self.status_line(index)
        if geo.retry is not None:
            return geo.status.left(), geo.status.right()
        sfm = QFontMetrics(self._status_font(font))
        width = min(float(sfm.horizontalAdvance(status.text)), geo.status.width())
        m: MessageRecord = index.data(MessageRoles.Record)
        if m.role is Role.USER:
            return geo.status.right() - width, geo.status.right()
        return geo.status.left(), geo.status.left() + width

    def reserve(self, index: Index | None, height: int = 0) -> None:
        """Make ``index``'s row at least ``height`` tall (the bubble editor over it), or
        (None) give the reserved row back its own height."""
        previous = self._reserved
        self._reserved = (QPersistentModelIndex(index), height) if index is not None else None
        if previous != self._reserved:
            for changed in (previous, self._reserved):
                if changed is not None and changed[0].isValid():
                    self.sizeHintChanged.emit(self._view.model().index(changed[0].row(), 0))

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        m: MessageRecord | None = index.data(MessageRoles.Record)
        if m is None:
            return QSize(0, 0)
        reserved = self._reserved
        if reserved is not None and reserved[0].row() == index.row() and reserved[0].isValid():
            size = self._own_size(option, index, m)
            return QSize(size.width(), max(size.height(), reserved[1] + 2 * ROW_SPACING))
        return self._own_size(option, index, m)

    def _own_size(self, option: QStyleOptionViewItem, index: Index, m: MessageRecord) -> QSize:
        width = self._view.viewport().width()
        key = (width, self.colors.dark, option.font.key())
        known = self._row_sizes.get(m.id)
        if known is not None and known[1] == key and (known[0] is m or known[0] == m):
            return known[2]  # a re-layout of thousands of rows is dict lookups
        geo = self.geometry(QRect(0, 0, width, 0), index, option.font, need_doc=False)
        size = QSize(width, int(geo.bubble.height()) + 2 * ROW_SPACING)
        if m.status is MessageStatus.COMPLETED:  # its status line is only its time
            self._row_sizes[m.id] = (m, key, size)
        return size

    # -- painting --------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        m: MessageRecord | None = index.data(MessageRoles.Record)
        if m is None:
            return
        c = self.colors
        parts = self._paint_parts(option, index, m)
        geo = _moved(parts.geo, option.rect.top())
        user = m.role is Role.USER
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if m.id == self.flash_id and self.flash_level > 0:
            glow = QColor(c.accent)
            glow.setAlphaF(0.35 * self.flash_level)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(glow)
            painter.drawRoundedRect(geo.bubble.adjusted(-5, -4, 5, 4), RADIUS + 4, RADIUS + 4)
        if user:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.user_bubble))
        else:
            painter.setPen(QPen(QColor(c.assistant_border), 1.0))
            painter.setBrush(QColor(c.assistant_bubble))
        if selected:
            painter.setPen(QPen(QColor(c.accent if not user else c.user_muted), 2.0))
        painter.drawRoundedRect(geo.bubble.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)

        layout = self._document(m, self._text_width(m), option.font)
        doc = layout.doc if layout is not None else None
        if doc is not None:
            painter.save()
            painter.translate(geo.text.topLeft())
            ctx = QAbstractTextDocumentLayout.PaintContext()
            ctx.palette.setColor(QPalette.ColorRole.Text, QColor(c.user_text if user else c.text))
            ctx.palette.setColor(QPalette.ColorRole.Link, QColor(c.user_link if user else c.link))
            ctx.clip = QRectF(0, 0, geo.text.width() + 1, geo.text.height() + 1)
            if self.text_layer is not None:
                self.text_layer.paint_text(painter, m.id, doc, ctx, geo.text.size(), user)
            else:
                doc.documentLayout().draw(painter, ctx)
            if self.action_bar is not None and m.role is Role.ASSISTANT:
                self.action_bar.paint_code_buttons(painter, m.id, doc, option.font, c)
            painter.restore()

        if geo.files:
            self._paint_files(painter, m, geo.files, option.font, user)
        if geo.citations:
            self._paint_citations(painter, m, geo.citations, option.font)
        status = parts.status
        painter.setFont(self._status_font(option.font))
        painter.setPen(QColor(status.color))
        shown = parts.shown
        align = Qt.AlignmentFlag.AlignVCenter | (
            Qt.AlignmentFlag.AlignRight
            if user and geo.retry is None
            else Qt.AlignmentFlag.AlignLeft
        )
        # Never clip: a clipped line loses the underscores below its baseline (A_B -> A B).
        painter.drawText(geo.status, int(align | Qt.TextFlag.TextDontClip), shown)
        if geo.retry is not None:
            painter.setFont(self._retry_font(option.font))
            painter.setPen(QColor(c.user_text if user else c.accent))
            painter.drawText(
                geo.retry,
                int(Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextDontClip),
                RETRY_TEXT,
            )
        if self.action_bar is not None and self.action_bar.shows_bar(m.id):
            self.action_bar.paint_bar(painter, index, option.rect, option.font, c)
        painter.restore()

    def _paint_files(
        self,
        painter: QPainter,
        m: MessageRecord,
        rects: tuple[QRectF, ...],
        font: QFont,
        user: bool,
    ) -> None:
        """A chip per attached file: its name and size (a click opens it)."""
        c = self.colors
        small = self._status_font(font)
        metrics = QFontMetrics(small)
        painter.setFont(small)
        for file, rect in zip(m.attachments, rects, strict=True):
            painter.setPen(QPen(QColor(c.user_muted if user else c.assistant_border), 1.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
            size = size_label(file.size_bytes)
            inner = rect.adjusted(8, 0, -8, 0)
            picture = (
                self.thumbnails.thumbnail(file)
                if self.thumbnails is not None and file.kind is AttachmentKind.IMAGE
                else None
            )
            if picture is not None:
                side = min(float(FILE_THUMB), rect.height() - 6)
                shown = picture.size().scaled(
                    int(side), int(side), Qt.AspectRatioMode.KeepAspectRatio
                )
                # whole pixels and the picture's own size: a plain copy, no scaling
                target = QRect(
                    round(rect.left() + 3 + (side - shown.width()) / 2),
                    round(rect.top() + (rect.height() - shown.height()) / 2),
                    shown.width(),
                    shown.height(),
                )
                painter.drawImage(target, picture)
                inner.setLeft(rect.left() + side + 9)
            size_w = metrics.horizontalAdvance(size)
            name_w = max(int(inner.width()) - size_w - 8, 10)
            name = metrics.elidedText(file.file_name, Qt.TextElideMode.ElideMiddle, name_w)
            painter.setPen(QColor(c.user_text if user else c.text))
            middle = Qt.AlignmentFlag.AlignVCenter
            painter.drawText(inner, int(middle | Qt.AlignmentFlag.AlignLeft), name)
            painter.setPen(QColor(c.user_muted if user else c.muted))
            painter.drawText(inner, int(middle | Qt.AlignmentFlag.AlignRight), size)

    def _paint_citations(
        self, painter: QPainter, m: MessageRecord, rects: tuple[QRectF, ...], font: QFont
    ) -> None:
        """Each place the reply was shown, as a small link (plain text: names are
        hostile, ``drawText`` never reads markup)."""
        small = QFont(self._status_font(font))
        small.setUnderline(True)
        metrics = QFontMetrics(small)
        painter.setFont(small)
        painter.setPen(QColor(self.colors.link))
        for link, rect in zip(self.citations(m), rects, strict=True):
            label = metrics.elidedText(link.label, Qt.TextElideMode.ElideMiddle, int(rect.width()))
            painter.drawText(
                rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextDontClip), label
            )

    def _paint_parts(self, option: QStyleOptionViewItem, index: Index, m: MessageRecord) -> _Parts:
        """Geometry and status text of a bubble at y = 0; kept for completed messages,
        so scrolling through history repaints from them instead of re-measuring."""
        width = self._view.viewport().width()
        key = (width, self.colors.dark, option.font.key(), date.today())
        known = self._parts.get(m.id)
        if known is not None and known[1] == key and (known[0] is m or known[0] == m):
            return known[2]
        geo = self.geometry(QRect(0, 0, width, 0), index, option.font)
        status = self.status_line(index)
        sfm = QFontMetrics(self._status_font(option.font))
        room = geo.status.width() - (
            geo.retry.width() + sfm.horizontalAdvance(RETRY_GAP) if geo.retry else 0
        )
        shown = sfm.elidedText(status.text, Qt.TextElideMode.ElideRight, int(room))
        parts = _Parts(geo, status, shown)
        if m.status is MessageStatus.COMPLETED:
            self._parts[m.id] = (m, key, parts)
        return parts

    # -- interaction -----------------------------------------------------------------

    def code_at(self, option_rect: QRect, index: Index, pos: QPointF, font: QFont) -> str | None:
        """The code of the reply's code block under ``pos`` (viewport coordinates), if any.

        Code blocks are the document's one-cell tables, in the order of the reply's
        fences; the code itself comes from the Markdown source, exactly as written.
        """
        m: MessageRecord | None = index.data(MessageRoles.Record)
        if m is None or m.role is not Role.ASSISTANT:
            return None
        geo = self.geometry(option_rect, index, font)
        doc = self.cached_document(m.id)
        if doc is None or not geo.text.contains(pos):
            return None
        layout = doc.documentLayout()
        local = pos - geo.text.topLeft()
        hit = layout.hitTest(local, Qt.HitTestAccuracy.FuzzyHit)
        if hit < 0:
            return None
        cursor = QTextCursor(doc)
        cursor.setPosition(hit)
        table = cursor.currentTable()
        if table is None or not layout.frameBoundingRect(table).contains(local):
            return None
        tables = _code_tables(doc)
        return self.code_of_block(m, doc, tables.index(table)) if table in tables else None

    def code_of_block(self, m: MessageRecord, doc: QTextDocument, number: int) -> str | None:
        """The code of the reply's ``number``-th code block, from the Markdown source,
        exactly as written (None when the shown document does not match the source,
        e.g. a giant reply shown cut)."""
        tables = _code_tables(doc)
        codes = code_blocks(m.content)
        if len(tables) != len(codes) or not 0 <= number < len(codes):
            return None
        return codes[number]

    def _anchor_at(self, geo: BubbleGeometry, m: MessageRecord, pos: QPointF) -> str | None:
        doc = self.cached_document(m.id)
        if doc is None or not geo.text.contains(pos):
            return None
        anchor = doc.documentLayout().anchorAt(pos - geo.text.topLeft())
        return anchor or None

    def editorEvent(
        self,
        event: QEvent,
        model: QAbstractItemModel,
        option: QStyleOptionViewItem,
        index: Index,
    ) -> bool:
        if not isinstance(event, QMouseEvent):
            return False
        m: MessageRecord | None = index.data(MessageRoles.Record)
        if m is None:
            return False
        geo = self.geometry(option.rect, index, option.font)
        pos = event.position()
        anchor = self._anchor_at(geo, m, pos)
        on_retry = geo.retry is not None and geo.retry.adjusted(-4, -4, 4, 4).contains(pos)
        step = 0 if on_retry else self.version_step_at(option.rect, index, option.font, pos)
        status = self.status_line(index)
        on_status = bool(
            not on_retry
            and not step
            and (status.tools or status.origin)
            and geo.status.contains(pos)
            and self._on_status_ink(option.rect, index, option.font, pos)
        )
        on_tools = on_status and status.tools
        on_origin = on_status and status.origin
        on_file = next((n for n, rect in enumerate(geo.files) if rect.contains(pos)), None)
        on_cite = next((n for n, rect in enumerate(geo.citations) if rect.contains(pos)), None)
        kind = event.type()
        if kind == QEvent.Type.MouseMove:
            cursor = (
                Qt.CursorShape.PointingHandCursor
                if anchor
                or on_retry
                or on_tools
                or on_origin
                or step
                or on_file is not None
                or on_cite is not None
                else Qt.CursorShape.IBeamCursor
                if geo.text.contains(pos)
                else Qt.CursorShape.ArrowCursor
            )
            self._view.viewport().setCursor(cursor)
            return False
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if kind == QEvent.Type.MouseButtonPress:
            self._pressed_anchor = anchor or (
                "\0retry"
                if on_retry
                else "\0tools"
                if on_tools
                else "\0origin"
                if on_origin
                else f"\0version{step}"
                if step
                else f"\0file{on_file}"
                if on_file is not None
                else f"\0cite{on_cite}"
                if on_cite is not None
                else None
            )
            return bool(step)  # a click on an arrow is not a click on the row
        if kind == QEvent.Type.MouseButtonRelease:
            pressed, self._pressed_anchor = self._pressed_anchor, None
            if on_retry and pressed == "\0retry":
                target = index.data(MessageRoles.RetryTarget)
                if isinstance(target, int):
                    self.retry_clicked.emit(target)
                    return True
            if on_tools and pressed == "\0tools":
                self.tools_clicked.emit(m.id)
                return True
            if on_origin and pressed == "\0origin":
                origin = branch_origin(m)
                if origin is not None:
                    self.origin_clicked.emit(origin[0], origin[1])
                return True
            if step and pressed == f"\0version{step}":
                self.version_clicked.emit(m.id, step)
                return True
            if anchor and pressed == anchor:
                self.link_activated.emit(anchor)
                return True
            if on_file is not None and pressed == f"\0file{on_file}":
                self.attachment_clicked.emit(m.id, m.attachments[on_file].id)
                return True
            if on_cite is not None and pressed == f"\0cite{on_cite}":
                self.citation_clicked.emit(m.id, on_cite)
                return True
        return False

    def _on_status_ink(self, option_rect: QRect, index: Index, font: QFont, pos: QPointF) -> bool:
        left, right = self.status_span(option_rect, index, font)
        return left - 2 <= pos.x() <= right + 2


def _citation_places(
    links: tuple[CitationLink, ...], metrics: QFontMetrics, width: float
) -> list[tuple[float, int, float]]:
    """Where each link goes: (x, line, width), flowing left to right and wrapping."""
    places: list[tuple[float, int, float]] = []
    x, row = 0.0, 0
    for link in links:
        w = min(float(metrics.horizontalAdvance(link.label) + 2), width)
        if x > 0 and x + w > width:
            x, row = 0.0, row + 1
        places.append((x, row, w))
        x += w + CITE_GAP
    return places


VERSION_GAP = "   "
"""Room between a version label and the rest of the status line."""


def branch_origin(m: MessageRecord) -> tuple[int, int, str] | None:
    """(chat id, message id, chat title) a branched chat's message came from, if any."""
    origin = m.metadata.get("branched_from")
    if not isinstance(origin, dict):
        return None
    thread, message, title = origin.get("thread_id"), origin.get("message_id"), origin.get("title")
    if not (isinstance(thread, int) and isinstance(message, int) and isinstance(title, str)):
        return None
    return thread, message, title


def one_line_title(title: str, limit: int = 40) -> str:
    words = " ".join(title.split())
    return words if len(words) <= limit else words[: limit - 1] + "…"


def version_label(index: Index) -> str:
    """``‹ 2 / 3 ›`` for a message with versions, else empty."""
    count = index.data(MessageRoles.VersionCount)
    if not isinstance(count, int) or count <= 1:
        return ""
    return f"‹ {index.data(MessageRoles.VersionIndex)} / {count} ›"


def _moved(geo: BubbleGeometry, dy: float) -> BubbleGeometry:
    """``geo`` shifted down by ``dy`` (a row's parts are kept at y = 0)."""
    return BubbleGeometry(
        geo.bubble.translated(0, dy),
        geo.text.translated(0, dy),
        geo.status.translated(0, dy),
        geo.retry.translated(0, dy) if geo.retry is not None else None,
        tuple(rect.translated(0, dy) for rect in geo.files),
        tuple(rect.translated(0, dy) for rect in geo.citations),
    )


def _code_tables(doc: QTextDocument) -> list[QTextTable]:
    """The code blocks of a document (its one-cell tables), in the order of the fences."""
    return [t for t in _tables(doc.rootFrame()) if t.rows() == 1 and t.columns() == 1]


def _tables(frame: QTextFrame) -> list[QTextTable]:
    """Every table in ``frame``, nested ones too, in document order."""
    found: list[QTextTable] = []
    for child in frame.childFrames():
        if isinstance(child, QTextTable):
            found.append(child)
        found.extend(_tables(child))
    return found
