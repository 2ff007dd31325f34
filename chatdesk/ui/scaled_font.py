"""Fonts that follow the person's text size: the whole window scales, not only the bubbles.

The text size setting changes the application font, which every widget without a font of
its own follows once the style sheet polishes it again. A few labels are bigger, smaller or
bold on purpose (the chat title, the empty-state hint, section headers); a font set on a
widget stops following the application font, so ``keep_scaled`` marks them and
``set_text_size`` derives theirs again.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget

MIN_POINTS = 7.0

_platform_font: QFont | None = None
_DIRECT = Qt.FindChildOption.FindDirectChildrenOnly


def set_text_size(points: int) -> None:
    """The application font at ``points`` (0: the platform's own size), for every widget."""
    global _platform_font
    if _platform_font is None:
        _platform_font = QFont(QApplication.font())
    font = QFont(_platform_font)
    if points > 0:
        font.setPointSize(points)
    if font == QApplication.font():
        return
    QApplication.setFont(font)
    app = QApplication.instance()
    if isinstance(app, QApplication) and app.styleSheet():
        # Widgets a style sheet polished keep the font they were polished with.
        app.setStyleSheet(app.styleSheet())
    # Then the fonts derived from it (Qt sends the widgets no event they could follow).
    for widget in QApplication.allWidgets():
        for follower in widget.findChildren(_Follower, options=_DIRECT):
            follower.apply()


def scaled(base: QFont, delta: float = 0.0, *, bold: bool | None = None) -> QFont:
    """``base`` made ``delta`` points bigger (or smaller, never below 7 pt), and bold or not."""
    font = QFont(base)
    if delta and font.pointSizeF() > 0:
        font.setPointSizeF(max(font.pointSizeF() + delta, MIN_POINTS))
    if bold is not None:
        font.setBold(bold)
    return font


class _Follower(QObject):
    def __init__(self, widget: QWidget, delta: float, bold: bool | None, fixed: bool) -> None:
        super().__init__(widget)
        self._widget, self._delta, self._bold, self._fixed = widget, delta, bold, fixed
        self.apply()

    def apply(self) -> None:
        base = QApplication.font()
        if self._fixed:
            from PySide6.QtGui import QFontDatabase

            fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
            if base.pointSizeF() > 0:
                fixed.setPointSizeF(base.pointSizeF())
            base = fixed
        self._widget.setFont(scaled(base, self._delta, bold=self._bold))


def keep_scaled(
    widget: QWidget, delta: float = 0.0, *, bold: bool | None = None, fixed: bool = False
) -> None:
    """Give ``widget`` the application font changed by ``delta`` points, now and later.

    ``fixed``: the system's monospace family at the application font's size.
    """
    _Follower(widget, delta, bold, fixed)
