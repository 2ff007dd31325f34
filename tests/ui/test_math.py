"""Math in bubbles: $…$, $$…$$, \\(…\\) and \\[…\\] drawn as formulas by a local renderer,
off the GUI thread; prices stay text, a formula that cannot be read stays code, a copy
gives the LaTeX."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QTextDocument
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.chat import math_render
from chatdesk.ui.chat.markdown_render import render_markdown
from chatdesk.ui.chat.math_render import FormulaError, FormulaLook, formula_image
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.theme import LIGHT
from tests.ui.test_bubble_selection import _copy, _doc, _open, _point, _reply, _where

MakeWindow = Callable[[], MainWindow]
LOOK = FormulaLook("#202020", 15.0)


class Found:
    """A ``Formulas`` that notes what markdown-it found and draws a marker."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def html(self, latex: str, display: bool) -> str:
        self.seen.append((latex, display))
        return f"[{'D' if display else 'I'}:{latex}]"


def test_the_four_delimiters_are_found_and_prices_code_and_escapes_are_not() -> None:
    found = Found()
    text = (
        "It costs $5 and $10, inline $x^2$ and \\(a+b\\), shown \\[E = mc^2\\].\n\n"
        "$$\n\\int_0^1 f(x)\\,dx\n$$\n\n"
        "`code $y$`, an escaped \\$z\\$ and \\\\(not math)."
    )
    html = render_markdown(text, LIGHT, found)
    assert found.seen == [
        ("x^2", False),
        ("a+b", False),
        ("E = mc^2", True),
        ("\\int_0^1 f(x)\\,dx", True),
    ]
    assert "$5 and $10" in html
    assert "code $y$" in html and "[I:y]" not in html
    assert "(not math)" in html


def test_without_a_renderer_or_for_a_formula_it_cannot_read_the_latex_shows_as_code() -> None:
    class Refuses:
        def html(self, latex: str, display: bool) -> None:
            return None

    for formulas in (None, Refuses()):
        html = render_markdown("so $\\frac{1}{$ and $$x<y$$", LIGHT, formulas)
        assert "<code" in html and "$\\frac{1}{$" in html
        assert "$$x&lt;y$$" in html  # escaped: a formula is text, never markup


def test_a_formula_is_drawn_in_its_colour_at_the_screens_resolution() -> None:
    image = formula_image("\\frac{a}{b}", True, FormulaLook("#ff0000", 15.0, ratio=2.0))
    assert image.devicePixelRatio() == 2.0
    assert image.width() > 10 and image.height() > 20
    inked = [
        image.pixelColor(x, y)
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() == 255
    ]
    assert inked and all(c.red() > 200 and c.green() < 60 for c in inked)


@pytest.mark.parametrize(
    "latex", ["\\frac{1}{", "\\left( x", "", "{" * 3000, "x^" + "{" * 600 + "}" * 600]
)
def test_what_cannot_be_drawn_says_so(latex: str) -> None:
    with pytest.raises(FormulaError):
        formula_image(latex, False, LOOK)


def test_a_reply_shows_its_formulas_drawn_off_the_gui_thread_and_a_copy_gives_latex(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn_on: set[int] = set()
    draw = math_render.formula_svg

    def noting(latex: str, display: bool, look: FormulaLook) -> str:
        drawn_on.add(threading.get_ident())
        return draw(latex, display, look)

    monkeypatch.setattr(math_render, "formula_svg", noting)  # a probe: still the real one
    thread = ui_services.threads.create(me, "Math")
    content = (
        "The area is $\\int_0^1 x^2\\,dx$, that is \\(\\frac{1}{3}\\).\n\n"
        "$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$\n\n"
        "A typo stays as it is: $\\frac{1}{$ and costs $5 or $10."
    )
    reply = _reply(ui_services, me, thread.id, content)
    window, view = _open(make_window, thread.id)

    def pictures() -> int:
        doc = _doc(view, reply.id)
        return doc.toPlainText().count("\ufffc")

    first_height = _doc(view, reply.id).size().height()
    qtbot.waitUntil(lambda: pictures() == 3, timeout=10_000)
    assert threading.get_ident() not in drawn_on and drawn_on
    doc = _doc(view, reply.id)
    assert doc.size().height() > first_height  # laid out again around the pictures
    text = doc.toPlainText()
    assert "$\\frac{1}{$" in text and "$5 or $10" in text
    image = doc.resource(QTextDocument.ResourceType.ImageResource, "chatdesk-math:0")
    assert isinstance(image, QImage) and not image.isNull()
    assert doc.refused == []  # nothing was loaded from anywhere

    start, _ = _where(view, reply.id, "area")
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_point(view, reply.id, start))
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    copied = _copy(qtbot, view)
    assert "$\\int_0^1 x^2\\,dx$" in copied and "$\\frac{1}{3}$" in copied
    assert "$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$" in copied
    assert "\ufffc" not in copied
    assert not QGuiApplication.clipboard().mimeData().hasHtml()
    window.close()


def test_the_math_renderer_is_not_loaded_at_start_up() -> None:
    import subprocess
    import sys

    code = (
        "import chatdesk.app, chatdesk.ui.main_window, sys; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('ziamath', 'ziafont', 'latex2mathml')); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
