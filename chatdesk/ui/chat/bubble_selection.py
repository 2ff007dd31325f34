"""Selecting part of a message's text with the mouse, in a list with no widget per row.

Why painted, not an editor widget laid over the bubble: a widget over one row has to
follow that row while replies stream (the row grows and moves), while history pages
in at the top (rows shift by thousands of pixels) and while the list scrolls; and it
would need a second copy of the document. Here the selection is only three numbers
(message id, anchor and cursor character positions). The delegate paints it through
``paint_text`` as a ``PaintContext`` selection on the same cached document, and
positions come from ``documentLayout().hitTest``. Keyed by message id, it survives
paging, scrolling, a re-layout and a streaming reply (whose document is rebuilt as
text arrives: positions are clamped to the text there is now).

Mouse: press on text and drag selects (past the top or bottom edge the list
scrolls; past a code block's side the block scrolls), a double click selects a word,
a triple click the paragraph, Shift+click extends. Links, Retry and the space
around bubbles keep their old behaviour. Keys on the list: Ctrl+C copies the
selection (plain text plus the HTML fragment), Ctrl+A selects the current bubble's
text, Escape clears. Pressing elsewhere, opening another thread or the message going
away clears it. Nothing here loads anything: the documents are ``SafeTextDocument``
and a copied fragment carries text and formats only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QMimeData, QModelIndex, QObject, QPointF, QSizeF, Qt, QTimer
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QApplication

from chatdesk.services.records import MessageRecord
from chatdesk.ui.chat.bubble_parts import BubbleGeometry
from chatdesk.ui.chat.code_scroll import WHEEL_STEP_PX, CodeBlock, CodeScroll, code_blocks_of
from chatdesk.ui.chat.math_images import text_with_formulas
from chatdesk.ui.chat.message_delegate import MessageDelegate
from chatdesk.ui.chat.message_model import MessageRoles

if TYPE_CHECKING:
    from chatdesk.ui.chat.message_model import MessageListModel

AUTOSCROLL_MS = 30
EDGE_STEP_MAX = 40
"""Most pixels the list (or a code block) moves per autoscroll tick while dragging."""
INVISIBLE = str.maketrans({"\u200b": None})
OBJECT = "\ufffc"  # what a picture (a formula) is in a document's plain text
"""Zero-width breaks ``display_text`` put in long runs: not part of the message."""


@dataclass
class TextSelection:
    """A selection in one bubble: character positions in its displayed document."""

    message_id: int
    anchor: int
    position: int

    def span(self, length: int) -> tuple[int, int]:
        """Start and end, clamped to a document of ``length`` characters."""
        a, b = (min(max(p, 0), length) for p in (self.anchor, self.position))
        return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class _Hit:
    message_id: int
    doc: QTextDocument
    local: QPointF  # on the painted bubble text
    position: int  # character position in ``doc``


class BubbleSelection(QObject):
    """Mouse and keyboard text selection inside the bubbles of a ``MessageListView``.

    It filters the view's and its viewport's events and is the delegate's text layer
    (``paint_text``). ``code_scroll`` holds the horizontal offsets of code blocks.
    """

    def __init__(
        self, view: QAbstractItemView, delegate: MessageDelegate, model: MessageListModel
    ) -> None:
        super().__init__(view)
        self._view = view
        self._delegate = delegate
        self._model = model
        self.code_scroll = CodeScroll()
        self.selection: TextSelection | None = None
        self._dragging = False
        self._thumb: tuple[int, CodeBlock, float, float] | None = None  # id, block, x, offset
        self._last_pos = QPointF()
        self._last_multi_click = 0.0
        self._autoscroll = QTimer(self)
        self._autoscroll.setInterval(AUTOSCROLL_MS)
        self._autoscroll.timeout.connect(self.on_autoscroll)
        self._delegate.text_layer = self
        view.installEventFilter(self)
        view.viewport().installEventFilter(self)
        self._model.modelReset.connect(self.on_model_reset)
        self._model.rowsAboutToBeRemoved.connect(self.on_rows_removed)

    # -- state -----------------------------------------------------------------------

    def has_selection(self, message_id: int | None = None) -> bool:
        s = self.selection
        if s is None or s.anchor == s.position:
            return False
        return message_id is None or s.message_id == message_id

    def clear(self) -> None:
        if self.selection is not None:
            message_id = self.selection.message_id
            self.selection = None
            self._update_message(message_id)

    def select(self, message_id: int, anchor: int, position: int) -> None:
        if self.selection is not None and self.selection.message_id != message_id:
            self.clear()
        self.selection = TextSelection(message_id, anchor, position)
        self._update_message(message_id)

    def select_all(self, message_id: int) -> bool:
        """Select all the text of a bubble (Ctrl+A); False when it shows no text."""
        doc = self._document(message_id)
        if doc is None:
            return False
        self.select(message_id, 0, doc.characterCount() - 1)
        return True

    def _cursor(self) -> QTextCursor | None:
        s = self.selection
        doc = self._document(s.message_id) if s is not None else None
        if s is None or doc is None:
            return None
        start, end = s.span(doc.characterCount() - 1)
        cursor = QTextCursor(doc)
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        return cursor

    def selected_text(self) -> str:
        """The selected text as plain text (what Ctrl+C puts on the clipboard)."""
        cursor = self._cursor()
        if cursor is None or not cursor.hasSelection():
            return ""
        return text_with_formulas(cursor.selection()).translate(INVISIBLE)

    def plain_text_of(self, message_id: int) -> str | None:
        """A whole bubble as it reads on screen: Markdown marks gone, formulas as their
        LaTeX (None when the bubble has not been laid out: it is not on screen)."""
        doc = self._document(message_id)
        if doc is None:
            return None
        cursor = QTextCursor(doc)
        cursor.select(QTextCursor.SelectionType.Document)
        return text_with_formulas(cursor.selection()).translate(INVISIBLE)

    def copy(self) -> bool:
        """Put the selection on the clipboard, as plain text and as the HTML fragment."""
        cursor = self._cursor()
        if cursor is None or not cursor.hasSelection():
            return False
        fragment = cursor.selection()
        mime = QMimeData()
        mime.setText(text_with_formulas(fragment).translate(INVISIBLE))
        if OBJECT not in fragment.toPlainText():  # formulas' pictures go as their LaTeX only
            mime.setHtml(fragment.toHtml().translate(INVISIBLE))
        QGuiApplication.clipboard().setMimeData(mime)
        return True

    # -- painting (the delegate's text layer) ----------------------------------------

    def paint_text(
        self,
        painter: QPainter,
        message_id: int,
        doc: QTextDocument,
        ctx: QAbstractTextDocumentLayout.PaintContext,
        size: QSizeF,
        user: bool,
    ) -> None:
        """Draw a bubble's document with its selection and scrolled code blocks."""
        colors = self._delegate.colors
        s = self.selection
        if s is not None and s.message_id == message_id:
            start, end = s.span(doc.characterCount() - 1)
            if start != end:
                cursor = QTextCursor(doc)
                cursor.setPosition(start)
                cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                fmt = QTextCharFormat()
                if user:  # the theme's selection colour would hide white text on blue
                    fmt.setBackground(QColor(colors.user_text))
                    fmt.setForeground(QColor(colors.user_bubble))
                else:
                    fmt.setBackground(QColor(colors.selection))
                selection = QAbstractTextDocumentLayout.Selection()
                selection.cursor = cursor
                selection.format = fmt
                ctx.selections = [selection]
        self.code_scroll.draw(painter, message_id, doc, ctx, size, colors)

    # -- finding text under the mouse ------------------------------------------------

    def _document(self, message_id: int) -> QTextDocument | None:
        located = self._locate(message_id)
        return located[2] if located is not None else None

    def _locate(self, message_id: int) -> tuple[QModelIndex, BubbleGeometry, QTextDocument] | None:
        row = self._model.row_of(message_id)
        if row is None:
            return None
        index = self._model.index(row)
        geo = self._delegate.geometry(self._view.visualRect(index), index, self._view.font())
        doc = self._delegate.cached_document(message_id)
        return (index, geo, doc) if doc is not None else None

    def _hit(self, message_id: int, pos: QPointF, *, inside: bool) -> _Hit | None:
        """The character at viewport ``pos`` in a bubble's text; with ``inside``, only
        when ``pos`` is on the text (else the nearest character, for dragging)."""
        located = self._locate(message_id)
        if located is None:
            return None
        _index, geo, doc = located
        if inside and not geo.text.contains(pos):
            return None
        local = pos - geo.text.topLeft()
        end = doc.characterCount() - 1
        if local.y() < 0:
            return _Hit(message_id, doc, local, 0)
        if local.y() > geo.text.height():
            return _Hit(message_id, doc, local, end)
        point = self.code_scroll.to_document(message_id, doc, local)
        position = doc.documentLayout().hitTest(point, Qt.HitTestAccuracy.FuzzyHit)
        return _Hit(message_id, doc, local, min(max(position, 0), end))

    def _message_at(self, pos: QPointF) -> int | None:
        index = self._view.indexAt(pos.toPoint())
        record: MessageRecord | None = index.data(MessageRoles.Record) if index.isValid() else None
        return record.id if record is not None else None

    def _on_link(self, hit: _Hit) -> bool:
        point = self.code_scroll.to_document(hit.message_id, hit.doc, hit.local)
        return bool(hit.doc.documentLayout().anchorAt(point))

    # -- events ----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self._view:
            if kind in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) and isinstance(
                event, QKeyEvent
            ):
                return self._on_key(event, kind == QEvent.Type.ShortcutOverride)
            return False
        if isinstance(event, QMouseEvent):
            if kind == QEvent.Type.MouseButtonPress:
                return self._on_press(event)
            if kind == QEvent.Type.MouseMove:
                return self._on_move(event)
            if kind == QEvent.Type.MouseButtonRelease:
                return self._on_release(event)
            if kind == QEvent.Type.MouseButtonDblClick:
                return self._on_double_click(event)
        if kind == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            return self._on_wheel(event)
        return False

    def _on_key(self, event: QKeyEvent, override: bool) -> bool:
        handled = False
        if event.matches(QKeySequence.StandardKey.Copy):
            handled = self.has_selection()
            if handled and not override:
                self.copy()
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            current = self._view.currentIndex()
            record: MessageRecord | None = (
                current.data(MessageRoles.Record) if current.isValid() else None
            )
            handled = record is not None
            if handled and not override and record is not None:
                self.select_all(record.id)
        elif event.key() == Qt.Key.Key_Escape and self.selection is not None:
            handled = True
            if not override:
                self.clear()
        if handled:
            event.accept()
        return handled

    def _on_press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        pos = event.position()
        message_id = self._message_at(pos)
        hit = self._hit(message_id, pos, inside=True) if message_id is not None else None
        if hit is None:
            self.clear()
            return False
        block = self.code_scroll.block_at(hit.doc, hit.local)
        if block is not None and block.thumb_band.contains(hit.local):
            offset = self.code_scroll.offset(hit.message_id, block)
            self._thumb = (hit.message_id, block, pos.x(), offset)
            return True
        if self._on_link(hit):
            self.clear()
            return False  # the delegate opens it on release, as before
        self._focus_row(hit.message_id)
        multi = time.monotonic() - self._last_multi_click
        if multi * 1000 < QApplication.doubleClickInterval():  # a triple click
            self._select_unit(hit, QTextCursor.MoveOperation.StartOfBlock)
            return True
        s = self.selection
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift and s is not None and s.message_id == hit.message_id:
            self.select(hit.message_id, s.anchor, hit.position)
        else:
            self.select(hit.message_id, hit.position, hit.position)
        self._dragging = True
        self._last_pos = pos
        self._autoscroll.start()
        return True

    def _on_move(self, event: QMouseEvent) -> bool:
        if self._thumb is not None:
            message_id, block, x, offset = self._thumb
            scale = block.content_width / max(block.inner.width(), 1.0)
            self.code_scroll.set_offset(
                message_id, block, offset + (event.position().x() - x) * scale
            )
            self._update_message(message_id)
            return True
        if not self._dragging:
            return False
        self._last_pos = event.position()
        self._extend_to(self._last_pos)
        return True

    def _on_release(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if self._thumb is not None:
            self._thumb = None
            return True
        if not self._dragging:
            return False
        self._dragging = False
        self._autoscroll.stop()
        if not self.has_selection():
            self.clear()  # a plain click: nothing selected
        return True

    def _on_double_click(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        pos = event.position()
        message_id = self._message_at(pos)
        hit = self._hit(message_id, pos, inside=True) if message_id is not None else None
        if hit is None or self._on_link(hit):
            return False
        self._focus_row(hit.message_id)
        self._select_unit(hit, QTextCursor.MoveOperation.StartOfWord)
        self._last_multi_click = time.monotonic()
        return True

    def _select_unit(self, hit: _Hit, unit: QTextCursor.MoveOperation) -> None:
        """Select the word (``StartOfWord``) or paragraph (``StartOfBlock``) at ``hit``."""
        cursor = QTextCursor(hit.doc)
        cursor.setPosition(hit.position)
        if unit == QTextCursor.MoveOperation.StartOfWord:
            cursor.select(QTextCursor.SelectionType.WordUnderCursor)
        else:
            cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
            cursor.movePosition(
                QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor
            )
        self._last_multi_click = 0.0
        self.select(hit.message_id, cursor.anchor(), cursor.position())

    def _on_wheel(self, event: QWheelEvent) -> bool:
        """A sideways wheel (or Shift+wheel) over a wide code block scrolls the block."""
        delta = event.pixelDelta() if not event.pixelDelta().isNull() else event.angleDelta()
        dx, dy = delta.x(), delta.y()
        if abs(dx) <= abs(dy):
            if not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                return False
            dx = dy
        if not dx:
            return False
        pos = event.position()
        message_id = self._message_at(pos)
        hit = self._hit(message_id, pos, inside=True) if message_id is not None else None
        block = self.code_scroll.block_at(hit.doc, hit.local) if hit is not None else None
        if hit is None or block is None:
            return False
        step = -dx if not event.pixelDelta().isNull() else -dx / 120 * WHEEL_STEP_PX
        if self.code_scroll.scroll_by(hit.message_id, block, step):
            self._update_message(hit.message_id)
        return True

    def on_autoscroll(self) -> None:
        """While dragging past an edge, scroll the list (or the code block) that way."""
        if not self._dragging or self.selection is None:
            self._autoscroll.stop()
            return
        pos = self._last_pos
        height = self._view.viewport().height()
        overshoot = pos.y() if pos.y() < 0 else pos.y() - height if pos.y() > height else 0.0
        if overshoot:
            bar = self._view.verticalScrollBar()
            step = max(-EDGE_STEP_MAX, min(EDGE_STEP_MAX, int(overshoot)))
            bar.setValue(bar.value() + step)
        s = self.selection
        hit = self._hit(s.message_id, pos, inside=False)
        block = self.code_scroll.block_at(hit.doc, hit.local) if hit is not None else None
        if hit is not None and block is None:
            # to the side of a code block the pointer is outside its visible area
            inner_hit = self._code_band_at(hit)
            if inner_hit is not None:
                block, dx = inner_hit
                shift = max(-EDGE_STEP_MAX, min(EDGE_STEP_MAX, dx))
                self.code_scroll.scroll_by(s.message_id, block, shift)
        if overshoot or block is not None:
            self._extend_to(pos)

    def _code_band_at(self, hit: _Hit) -> tuple[CodeBlock, float] | None:
        """A wide code block level with ``hit`` and how far past its side the pointer is."""
        for block in code_blocks_of(hit.doc):
            inner = block.inner
            if block.overflow > 0 and inner.top() <= hit.local.y() <= inner.bottom():
                if hit.local.x() > inner.right():
                    return block, hit.local.x() - inner.right()
                if hit.local.x() < inner.left():
                    return block, hit.local.x() - inner.left()
        return None

    def _extend_to(self, pos: QPointF) -> None:
        s = self.selection
        if s is None:
            return
        hit = self._hit(s.message_id, pos, inside=False)
        if hit is None:
            self.clear()
            return
        if hit.position != s.position:
            s.position = hit.position
        self._update_message(s.message_id)

    # -- keeping in step with the list -----------------------------------------------

    def _focus_row(self, message_id: int) -> None:
        row = self._model.row_of(message_id)
        if row is not None:
            self._view.setCurrentIndex(self._model.index(row))
        self._view.setFocus(Qt.FocusReason.MouseFocusReason)

    def _update_message(self, message_id: int) -> None:
        row = self._model.row_of(message_id)
        if row is not None:
            self._view.viewport().update(self._view.visualRect(self._model.index(row)))

    def on_model_reset(self) -> None:
        """Another thread (or a fresh window on this one): nothing stays selected."""
        self.selection = None
        self._dragging = False
        self._thumb = None
        self._autoscroll.stop()
        self.code_scroll.clear()

    def on_rows_removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        s = self.selection
        row = self._model.row_of(s.message_id) if s is not None else None
        if row is not None and first <= row <= last:
            self.selection = None
            self._dragging = False
            self._autoscroll.stop()
