"""Small icons drawn with lines (copy, check, pencil, circling arrow, three dots).

Why drawn, not image files: they take the theme's colour and any size, and there is
nothing to download or ship. Each draws inside the square ``r`` it is given.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen


def _pen(color: QColor, rect: QRectF) -> QPen:
    pen = QPen(color, max(1.2, rect.width() / 9))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def draw_copy(painter: QPainter, r: QRectF, color: QColor) -> None:
    """Two overlapping sheets."""
    painter.save()
    painter.setPen(_pen(color, r))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    w = r.width() * 0.68
    back = QRectF(r.left(), r.top(), w, w)
    front = QRectF(r.right() - w, r.bottom() - w, w, w)
    radius = w / 5
    painter.drawPolyline(  # the back sheet shows only above and left of the front one
        [
            QPointF(back.left(), back.bottom() - w * 0.15),
            QPointF(back.left(), back.top()),
            QPointF(back.right() - w * 0.15, back.top()),
        ]
    )
    painter.drawRoundedRect(front, radius, radius)
    painter.restore()


def draw_check(painter: QPainter, r: QRectF, color: QColor) -> None:
    painter.save()
    painter.setPen(_pen(color, r))
    painter.drawPolyline(
        [
            QPointF(r.left() + r.width() * 0.1, r.top() + r.height() * 0.55),
            QPointF(r.left() + r.width() * 0.4, r.top() + r.height() * 0.85),
            QPointF(r.right() - r.width() * 0.05, r.top() + r.height() * 0.2),
        ]
    )
    painter.restore()


def draw_pencil(painter: QPainter, r: QRectF, color: QColor) -> None:
    """A pencil from top right to bottom left."""
    painter.save()
    painter.setPen(_pen(color, r))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.translate(r.center())
    painter.rotate(45)
    length, half = r.width() * 1.15, r.width() * 0.17
    body = QPainterPath()
    body.moveTo(-length / 2 + half * 1.6, -half)
    body.lineTo(length / 2, -half)
    body.lineTo(length / 2, half)
    body.lineTo(-length / 2 + half * 1.6, half)
    body.lineTo(-length / 2, 0)
    body.closeSubpath()
    painter.drawPath(body)
    x = length / 2 - half * 1.5
    painter.drawLine(QPointF(x, -half), QPointF(x, half))
    painter.restore()


def draw_again(painter: QPainter, r: QRectF, color: QColor) -> None:
    """A circling arrow: do it again."""
    painter.save()
    pen = _pen(color, r)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    ring = r.adjusted(r.width() * 0.06, r.width() * 0.06, -r.width() * 0.06, -r.width() * 0.06)
    painter.drawArc(ring, 100 * 16, 290 * 16)  # Qt angles: 1/16 degree, counter-clockwise
    # the arrowhead at the arc's start (top, a little left of centre), pointing right
    tip = QPointF(ring.center().x() + ring.width() * 0.02, ring.top())
    size = r.width() * 0.3
    painter.drawPolyline(
        [
            QPointF(tip.x() - size * 0.6, tip.y() - size * 0.75),
            tip,
            QPointF(tip.x() - size * 0.6, tip.y() + size * 0.75),
        ]
    )
    painter.restore()


def draw_dots(painter: QPainter, r: QRectF, color: QColor) -> None:
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    dot = max(1.6, r.width() / 9)
    for n in (-1, 0, 1):
        centre = QPointF(r.center().x() + n * r.width() * 0.36, r.center().y())
        painter.drawEllipse(centre, dot, dot)
    painter.restore()
