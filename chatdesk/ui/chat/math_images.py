"""The pictures of the formulas bubbles show, made off the GUI thread and kept.

Painting asks for a formula's picture (``picture``); the first ask gets None and has it
drawn by ``ui/on_demand.py`` (one task, the newest ask first), so opening a chat of
five hundred formulas costs the GUI thread nothing more than the text around them. The
bubble shows the LaTeX as code meanwhile, and for good when it cannot be read. When
pictures come in, ``ready`` says so, once per ``SETTLE_MS`` at most: the delegate then
lays out again the bubbles that were waiting for them.
"""

from __future__ import annotations

import html
from collections import OrderedDict
from collections.abc import Hashable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage, QTextCursor, QTextDocument, QTextDocumentFragment

from chatdesk.ui.chat.math_render import FormulaError, FormulaLook, formula_image
from chatdesk.ui.on_demand import OnDemand
from chatdesk.ui.tasks import Tasks

KEPT = 3_000
"""Pictures kept (a few KB each)."""
PENDING_MAX = 200
"""Asks kept waiting: a bubble may hold a hundred formulas, all wanted at once."""
SETTLE_MS = 50
DISPLAY_INDENT = 12
MATH_SCALE = 1.15
"""Formulas a little larger than the text: the math font's letters are smaller than
the interface font's at the same size."""


Key = tuple[str, bool, FormulaLook]


class FailedFormula:
    """A formula that cannot be drawn: shown as its LaTeX, never asked for again."""


FAILED = FailedFormula()


class MathImages(QObject):
    """Formula pictures by (LaTeX, display, look).

    Signals:
        ready: pictures came in since the last time it was emitted.
    """

    ready = Signal()

    def __init__(self, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._kept: OrderedDict[Key, QImage | FailedFormula] = OrderedDict()
        self._asked: set[Key] = set()
        self._maker = OnDemand(tasks, "chatdesk-formulas", PENDING_MAX, self)
        self._maker.made.connect(self._on_made)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.ready)

    def picture(
        self, latex: str, display: bool, look: FormulaLook
    ) -> QImage | FailedFormula | None:
        """The formula's picture, ``FAILED``, or None while it is being drawn."""
        key = (latex, display, look)
        known = self._kept.get(key)
        if known is not None:
            self._kept.move_to_end(key)
            return known
        if key not in self._asked:
            self._asked.add(key)
            dropped = self._maker.ask(key, lambda: _draw(latex, display, look))
            self._asked.difference_update(k for k in dropped if isinstance(k, tuple))
        return None

    def _on_made(self, key: Hashable, picture: object) -> None:
        if not isinstance(key, tuple):
            return
        self._asked.discard(key)
        self._kept[key] = picture if isinstance(picture, QImage) else FAILED
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
        if not self._settle.isActive():
            self._settle.start()


def _draw(latex: str, display: bool, look: FormulaLook) -> QImage | None:
    """The picture, or None for a formula that cannot be read (a model's typo is no
    error worth a log line)."""
    try:
        return formula_image(latex, display, look)
    except FormulaError:
        return None


class BubbleFormulas:
    """One bubble's formulas as ``markdown_render`` asks for them: the markup of each
    picture ready, the pictures the document must hold, and whether one is still being
    drawn (the bubble is laid out again when it comes)."""

    def __init__(self, images: MathImages, look: FormulaLook) -> None:
        self._images = images
        self._look = look
        self.pictures: list[tuple[str, QImage]] = []
        self.waiting = False

    def html(self, latex: str, display: bool) -> str | None:
        picture = self._images.picture(latex, display, self._look)
        if picture is None:
            self.waiting = True
            return None
        if not isinstance(picture, QImage):
            return None  # cannot be read: its LaTeX, as code
        name = f"chatdesk-math:{len(self.pictures)}"
        self.pictures.append((name, picture))
        ratio = picture.devicePixelRatio() or 1.0
        width, height = round(picture.width() / ratio), round(picture.height() / ratio)
        marks = "$$" if display else "$"
        source = html.escape(f"{marks}{latex}{marks}", quote=True)  # what a copy gives
        tag = f'<img src="{name}" width="{width}" height="{height}" title="{source}"'
        if display:  # a paragraph of its own, set in a little (the bubble fits it)
            return f'</p><p style="margin-left:{DISPLAY_INDENT}px;">{tag} /></p><p>'
        return f'{tag} style="vertical-align: middle;" />'


def text_with_formulas(fragment: QTextDocumentFragment) -> str:
    """A selection as plain text, each formula's picture as the LaTeX it was drawn from
    (kept in its ``title``, read back as the image's tool tip)."""
    doc = QTextDocument()
    QTextCursor(doc).insertFragment(fragment)
    lines = []
    block = doc.begin()
    while block.isValid():
        pieces = []
        it = block.begin()
        while not it.atEnd():
            part = it.fragment()
            if part.isValid():
                form = part.charFormat()
                pieces.append(form.toolTip() if form.isImageFormat() else part.text())
            it += 1
        lines.append("".join(pieces))
        block = block.next()
    return "\n".join(lines)
