"""Code blocks in painted bubbles keep their lines whole and scroll sideways.

Why not wrap: a wrapped line of code reads as two lines (and Python or YAML changes
meaning when indentation is lost to a wrap), so the apps people paste code from
(ChatGPT, Claude, GitHub, Element) keep code lines unwrapped and let the block scroll
horizontally, while Slack and Discord wrap and are a known annoyance for code. Since
bubbles are painted (no widget per message), a block scrolls here by hand:

- ``markdown_render`` lays code out with ``white-space:pre``, so a long line makes its
  one-cell table wider than the bubble's text.
- ``CodeScroll.draw`` paints the document clipped to the bubble, then paints each
  overflowing block's inside again, clipped to the block and shifted by its
  horizontal offset (kept per message and block, so it survives scrolling the list
  and a streaming re-layout). The block's frame stays put; the code moves.
- A fade at the clipped edge and a thin thumb along the block's bottom padding say
  "there is more to the side". A horizontal wheel (or Shift+wheel) over the block,
  dragging the thumb, or drag-selecting past the edge scrolls it
  (``bubble_selection`` drives those).

All geometry here is in document coordinates (the bubble's text rect's top-left is
the origin).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QLinearGradient,
    QPainter,
    QPen,
    QRegion,
    QTextDocument,
    QTextTable,
)

from chatdesk.ui.chat.markdown_render import CODE_PADDING
from chatdesk.ui.theme import Colors

FADE_PX = 28.0
"""Width of the fade at a clipped edge of a code block."""
THUMB_PX = 4.0
"""Height of the horizontal scroll thumb, drawn inside the block's bottom padding."""
BORDER_PX = 1.0
LABEL_GAP = 2.0
"""Pixels above the first code line that scroll with it, under the language label."""
WHEEL_STEP_PX = 48.0
"""Pixels a code block moves per wheel notch (120 units of angle delta)."""


@dataclass(frozen=True)
class CodeBlock:
    """One code block of a laid-out document.

    Attributes:
        number: the block's place among the document's code blocks (0-based).
        inner: the visible code area inside the border (document coordinates).
        box: the whole inside of the border, the language label included.
        content_width: how wide the code is, padding included, from ``inner.left``.
        overflow: how far the code reaches past ``inner`` (0 when it fits).
    """

    number: int
    inner: QRectF
    box: QRectF
    content_width: float
    overflow: float

    @property
    def thumb_band(self) -> QRectF:
        """The strip along the bottom padding where the scroll thumb lives."""
        return QRectF(
            self.inner.left(), self.inner.bottom() - CODE_PADDING, self.inner.width(), CODE_PADDING
        )


_blocks: weakref.WeakKeyDictionary[QTextDocument, tuple[tuple[float, int], list[CodeBlock]]] = (
    weakref.WeakKeyDictionary()
)


def code_blocks_of(doc: QTextDocument) -> list[CodeBlock]:
    """The code blocks (one-cell tables) of ``doc`` as laid out now, cached per layout."""
    key = (doc.textWidth(), doc.revision())
    known = _blocks.get(doc)
    if known is not None and known[0] == key:
        return known[1]
    found: list[CodeBlock] = []
    layout = doc.documentLayout()
    width = doc.textWidth()
    for frame in doc.rootFrame().childFrames():
        if not isinstance(frame, QTextTable) or frame.rows() != 1 or frame.columns() != 1:
            continue
        cell = frame.cellAt(0, 0)
        first = cell.firstCursorPosition().block()
        last = cell.lastCursorPosition().block()
        top = box_top = layout.blockBoundingRect(first).top() - CODE_PADDING
        if not first.blockFormat().nonBreakableLines() and first != last:
            first = first.next()  # the language label stays put; only the code moves
            top = layout.blockBoundingRect(first).top() - LABEL_GAP
        bottom = layout.blockBoundingRect(last).bottom() + CODE_PADDING
        right = 0.0
        block = first
        while block.isValid():
            rect = layout.blockBoundingRect(block)
            lines = block.layout()
            for n in range(lines.lineCount()):
                line = lines.lineAt(n)
                right = max(right, rect.left() + line.x() + line.naturalTextWidth())
            if block == last:
                break
            block = block.next()
        # Qt draws the table's left border in the second pixel column. Whole pixels:
        # the two painting passes must meet without a seam.
        inner = QRectF(
            QRectF(2 * BORDER_PX, top, max(width - 3 * BORDER_PX, 0.0), bottom - top)
            .toAlignedRect()
            .adjusted(0, 0, -1, 0)
        )
        content = right + CODE_PADDING - inner.left()
        box = QRectF(inner.left(), box_top, inner.width(), inner.bottom() - box_top)
        found.append(CodeBlock(len(found), inner, box, content, max(0.0, content - inner.width())))
    _blocks[doc] = (key, found)
    return found


class CodeScroll:
    """Horizontal offsets of code blocks, per message, and the painting that uses them."""

    def __init__(self) -> None:
        self._offsets: dict[tuple[int, int], float] = {}

    def clear(self) -> None:
        self._offsets.clear()

    def offset(self, message_id: int, block: CodeBlock) -> float:
        """The block's offset, kept within what its code needs (a re-layout may shrink it)."""
        return min(max(self._offsets.get((message_id, block.number), 0.0), 0.0), block.overflow)

    def set_offset(self, message_id: int, block: CodeBlock, value: float) -> bool:
        """Move a block; True when it moved."""
        before = self.offset(message_id, block)
        after = min(max(value, 0.0), block.overflow)
        self._offsets[(message_id, block.number)] = after
        return after != before

    def block_at(self, doc: QTextDocument, local: QPointF) -> CodeBlock | None:
        """The overflowing code block whose visible area holds ``local``, if any."""
        for block in code_blocks_of(doc):
            if block.overflow > 0 and block.inner.contains(local):
                return block
        return None

    def to_document(self, message_id: int, doc: QTextDocument, local: QPointF) -> QPointF:
        """A point on the painted bubble to the document point drawn there."""
        for block in code_blocks_of(doc):
            top, bottom = block.inner.top(), block.inner.bottom()
            if block.overflow > 0 and top <= local.y() <= bottom:
                return local + QPointF(self.offset(message_id, block), 0.0)
        return local

    def scroll_by(self, message_id: int, block: CodeBlock, dx: float) -> bool:
        return self.set_offset(message_id, block, self.offset(message_id, block) + dx)

    def thumb_rect(self, message_id: int, block: CodeBlock) -> QRectF:
        """Where the scroll thumb of an overflowing block is drawn."""
        band = block.thumb_band
        visible = band.width() / block.content_width if block.content_width else 1.0
        length = max(band.width() * visible, 24.0)
        travel = band.width() - length
        at = self.offset(message_id, block) / block.overflow if block.overflow else 0.0
        y = band.bottom() - THUMB_PX - 3.0
        return QRectF(band.left() + 3.0 + (travel - 6.0) * at, y, length, THUMB_PX)

    def draw(
        self,
        painter: QPainter,
        message_id: int,
        doc: QTextDocument,
        ctx: QAbstractTextDocumentLayout.PaintContext,
        size: QSizeF,
        colors: Colors,
    ) -> None:
        """Paint ``doc`` within ``size``, its overflowing code blocks at their offsets."""
        layout = doc.documentLayout()
        area = QRectF(QPointF(0.0, 0.0), size).adjusted(0, 0, 1, 1)
        wide = [b for b in code_blocks_of(doc) if b.overflow > 0]
        painter.save()
        region = QRegion(area.toAlignedRect())
        for block in wide:
            if self.offset(message_id, block) > 0:
                region -= QRegion(block.inner.toAlignedRect())
        painter.setClipRegion(region, Qt.ClipOperation.IntersectClip)
        layout.draw(painter, ctx)
        painter.restore()
        for block in wide:
            offset = self.offset(message_id, block)
            if offset > 0:
                painter.save()
                painter.setClipRect(block.inner, Qt.ClipOperation.IntersectClip)
                painter.fillRect(block.inner, QColor(colors.code_bg))
                painter.translate(-offset, 0.0)
                shifted = QAbstractTextDocumentLayout.PaintContext(ctx)
                shifted.clip = block.inner.translated(offset, 0.0)
                layout.draw(painter, shifted)
                painter.restore()
            self._draw_edges(painter, message_id, block, colors)

    def _draw_edges(
        self, painter: QPainter, message_id: int, block: CodeBlock, colors: Colors
    ) -> None:
        """The right border the wide table lost to the clip, fades and the thumb."""
        inner = block.inner
        offset = self.offset(message_id, block)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        background = QColor(colors.code_bg)
        clear = QColor(background)
        clear.setAlpha(0)
        if offset < block.overflow:
            fade = QRectF(inner.right() - FADE_PX, inner.top(), FADE_PX, inner.height())
            gradient = QLinearGradient(fade.topLeft(), fade.topRight())
            gradient.setColorAt(0.0, clear)
            gradient.setColorAt(1.0, background)
            painter.fillRect(fade, gradient)
        if offset > 0:
            fade = QRectF(inner.left(), inner.top(), FADE_PX, inner.height())
            gradient = QLinearGradient(fade.topRight(), fade.topLeft())
            gradient.setColorAt(0.0, clear)
            gradient.setColorAt(1.0, background)
            painter.fillRect(fade, gradient)
        painter.setPen(QPen(QColor(colors.border), BORDER_PX))
        x = inner.right() + BORDER_PX / 2
        painter.drawLine(QPointF(x, block.box.top() - 1), QPointF(x, block.box.bottom() + 1))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        thumb = QColor(colors.rule)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(thumb)
        painter.drawRoundedRect(self.thumb_rect(message_id, block), THUMB_PX / 2, THUMB_PX / 2)
        painter.restore()
