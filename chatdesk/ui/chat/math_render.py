"""A LaTeX formula as a picture, made locally: ziamath turns it into SVG (its own
bundled math font, STIX Two, glyphs as paths), Qt's SVG renderer draws that into an
image.

Any thread: nothing here touches a widget. No web view and no network; ziamath is
imported on the first formula, not at start-up. A formula that cannot be read raises
``FormulaError`` (the bubble then shows its LaTeX as code); so does one longer than
``MAX_LATEX_CHARS``, as a reply is untrusted and a huge formula would take seconds.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

MAX_LATEX_CHARS = 1_000
MAX_SIDE_PX = 4_000
"""A formula's picture is cut to this many pixels a side (a thousand \\quad's)."""


class FormulaError(ValueError):
    """The formula cannot be drawn; the message says why, for the log."""


@dataclass(frozen=True)
class FormulaLook:
    """How a formula is drawn: its text colour, the font size around it (pixels) and the
    screen's device pixel ratio (a picture is made at the screen's own resolution)."""

    color: str
    size_px: float
    ratio: float = 1.0


_LOADING = threading.Lock()


def _ziamath_latex() -> Any:
    """ziamath's ``Latex``, imported on the first formula (~0.2 s: it loads its font)."""
    with _LOADING:
        with warnings.catch_warnings():
            # ziamath 0.13 finds its font with importlib.resources.path, deprecated in 3.11
            warnings.simplefilter("ignore", DeprecationWarning)
            from ziafont.config import config as font_config
            from ziamath.zmath import Latex

        font_config.svg2 = False  # glyphs as plain paths: Qt's SVG cannot draw <symbol>s
    return Latex


def formula_svg(latex: str, display: bool, look: FormulaLook) -> str:
    """The SVG of ``latex`` (display: a formula on its own line, larger operators)."""
    if not latex.strip():
        raise FormulaError("an empty formula")
    if len(latex) > MAX_LATEX_CHARS:
        raise FormulaError(f"a formula of {len(latex):,} characters")
    latex_class = _ziamath_latex()
    try:
        drawn = latex_class(latex, size=look.size_px, color=look.color, inline=not display)
        return str(drawn.svg())
    except RecursionError:
        raise FormulaError("nested too deeply") from None
    except Exception as error:  # latex2mathml's many parse errors have no common base
        raise FormulaError(f"{type(error).__name__}: {error}") from None


def formula_image(latex: str, display: bool, look: FormulaLook) -> QImage:
    """The formula drawn on a transparent image at ``look.ratio`` (premultiplied, the
    raster painter's own format)."""
    renderer = QSvgRenderer(QByteArray(formula_svg(latex, display, look).encode()))
    if not renderer.isValid():
        raise FormulaError("the SVG could not be read")
    size = renderer.defaultSize()
    width = min(max(round(size.width() * look.ratio), 1), MAX_SIDE_PX)
    height = min(max(round(size.height() * look.ratio), 1), MAX_SIDE_PX)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        renderer.render(painter, QRectF(0, 0, width, height))
    finally:
        painter.end()
    image.setDevicePixelRatio(look.ratio)
    return image
