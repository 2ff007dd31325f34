"""The Copy button at the top right of every code block, as painted.

Why a module of its own: every code block in view paints one on every frame, so each
look (text size, theme, idle/hover/Copied, pixel ratio) is drawn once into a pixmap
and then only copied, about 15 µs a button instead of 90 for drawing it each time.
The button sits in the block's label row (``markdown_render`` gives every block one),
so it never covers code. Geometry is in document coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPen,
    QPixmap,
    QStaticText,
    QTransform,
)

from chatdesk.ui import glyphs
from chatdesk.ui.chat.bubble_parts import status_font
from chatdesk.ui.chat.code_scroll import CodeBlock
from chatdesk.ui.theme import Colors

CODE_COPY = "Copy"
CODE_COPIED = "Copied"


@dataclass(frozen=True)
class _CodeButtonLook:
    """A code Copy button's font and measures for one text size, worked out once: every
    code block in view paints one on every frame."""

    font: QFont
    width: float
    height: float
    glyph: float  # the icon's side
    ascent: float
    descent: float
    labels: dict[str, tuple[QStaticText, float]]  # laid-out label and its width


_looks: dict[str, _CodeButtonLook] = {}


def _code_button_look(font: QFont) -> _CodeButtonLook:
    look = _looks.get(font.key())
    if look is None:
        small = status_font(font)
        fm = QFontMetricsF(small)
        labels = {}
        for label in (CODE_COPY, CODE_COPIED):
            text = QStaticText(label)
            text.prepare(QTransform(), small)
            labels[label] = (text, fm.horizontalAdvance(label))
        width = fm.horizontalAdvance(CODE_COPIED) + fm.height() + 14.0
        look = _CodeButtonLook(
            small, width, fm.height() + 6.0, fm.height() - 4.0, fm.ascent(), fm.descent(), labels
        )
        _looks[font.key()] = look
    return look


_pixmaps: dict[tuple[object, ...], QPixmap] = {}


def _code_button_pixmap(look: _CodeButtonLook, c: Colors, state: str, ratio: float) -> QPixmap:
    """A code Copy button as painted: ``state`` is "" (idle), "hover" or "done" (Copied)."""
    key = (look.font.key(), c, state, ratio)
    pixmap = _pixmaps.get(key)
    if pixmap is not None:
        return pixmap
    pixmap = QPixmap(round(look.width * ratio), round(look.height * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    rect = QRectF(0.0, 0.0, look.width, look.height)
    done = state == "done"
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(QColor(c.border), 1.0))
    painter.setBrush(QColor(c.hover if state == "hover" else c.code_bg))
    painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6.0, 6.0)
    color = QColor(c.text if state else c.muted)
    text, text_width = look.labels[CODE_COPIED if done else CODE_COPY]
    left = rect.center().x() - (look.glyph + 4.0 + text_width) / 2  # glyph and word centred
    icon = QRectF(left, rect.center().y() - look.glyph / 2, look.glyph, look.glyph)
    (glyphs.draw_check if done else glyphs.draw_copy)(painter, icon, color)
    painter.setFont(look.font)
    painter.setPen(color)
    top = rect.center().y() - (look.ascent + look.descent) / 2
    painter.drawStaticText(QPointF(icon.right() + 4.0, top), text)
    painter.end()
    _pixmaps[key] = pixmap
    return pixmap


def code_button_rect(block: CodeBlock, font: QFont) -> QRectF:
    """Where a code block's Copy button is, in document coordinates (its label row)."""
    look = _code_button_look(font)
    return QRectF(
        block.box.right() - look.width - 4.0, block.box.top() + 4.0, look.width, look.height
    )


def paint_code_button(
    painter: QPainter, block: CodeBlock, font: QFont, c: Colors, state: str
) -> None:
    """Paint ``block``'s button; ``state`` is "" (idle), "hover" or "done" (Copied)."""
    device = painter.device()
    ratio = device.devicePixelRatioF() if device is not None else 1.0
    pixmap = _code_button_pixmap(_code_button_look(font), c, state, ratio)
    painter.drawPixmap(code_button_rect(block, font).topLeft(), pixmap)
