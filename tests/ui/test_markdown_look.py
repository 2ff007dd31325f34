"""How replies are laid out: line breaks, quotes, tables, lists, code and long lines.

These pin the layout a person sees in a bubble, measured on the real documents the
delegate paints (``build_document``), not on HTML strings.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextBlock, QTextCursor, QTextDocument, QTextTable

from chatdesk.ui.chat.markdown_render import (
    BLOCK_SPACING,
    CODE_PADDING,
    LIST_INDENT,
    build_document,
    code_blocks,
    render_markdown,
)
from chatdesk.ui.theme import DARK, LIGHT, Colors

WIDTH = 420


def _doc(markdown: str, colors: Colors = LIGHT, width: float = WIDTH) -> QTextDocument:
    doc = build_document(render_markdown(markdown, colors), QFont(), width, colors.link)
    doc.size()  # lay it out, as painting does
    return doc


def _top(doc: QTextDocument, text: str) -> float:
    return doc.documentLayout().blockBoundingRect(_block(doc, text)).top()


def _bottom(doc: QTextDocument, text: str) -> float:
    return doc.documentLayout().blockBoundingRect(_block(doc, text)).bottom()


def _block(doc: QTextDocument, text: str) -> QTextBlock:
    block = doc.firstBlock()
    while block.isValid():
        if block.text().startswith(text):
            return block
        block = block.next()
    raise AssertionError(f"no block starts with {text!r}")


def _tables(doc: QTextDocument) -> list[QTextTable]:
    return [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]


def _line_count(doc: QTextDocument) -> int:
    count, block = 0, doc.firstBlock()
    while block.isValid():
        count += block.layout().lineCount()
        block = block.next()
    return count


def test_a_single_line_break_is_kept(qapp: Any) -> None:
    doc = _doc("Rows flow in batches —\nthe night job ends before dawn.\nCoffee still warm.")
    assert _line_count(doc) == 3
    assert doc.toPlainText().splitlines() == [
        "Rows flow in batches —",
        "the night job ends before dawn.",
        "Coffee still warm.",
    ]


@pytest.mark.parametrize("colors", [LIGHT, DARK])
def test_a_quote_has_a_bar_and_muted_text(qapp: Any, colors: Colors) -> None:
    doc = _doc("Before.\n\n> Tip: keep it pure.\n\nAfter.", colors)
    (quote,) = _tables(doc)
    assert (quote.rows(), quote.columns()) == (1, 2)
    bar = quote.cellAt(0, 0)
    assert bar.format().background().color().name() == colors.rule
    cursor = QTextCursor(doc)
    cursor.setPosition(_block(doc, "Tip").position() + 1)
    assert cursor.charFormat().foreground().color().name() == colors.muted
    assert doc.toPlainText().splitlines()[-1] == "After."


def test_a_quote_does_not_count_as_a_code_block(qapp: Any) -> None:
    text = "> quoted\n\n```python\nx = 1\n```\n"
    doc = _doc(text)
    one_cell = [t for t in _tables(doc) if (t.rows(), t.columns()) == (1, 1)]
    assert len(one_cell) == len(code_blocks(text)) == 1


def test_table_header_cells_are_shaded_and_keep_their_alignment(qapp: Any) -> None:
    doc = _doc("| Step | Time |\n|---|---:|\n| Load | 41.2 s |\n")
    (table,) = _tables(doc)
    header = table.cellAt(0, 0).format().background().color().name()
    body = table.cellAt(1, 0).format().background()
    assert header == LIGHT.inline_code_bg and body.style() == Qt.BrushStyle.NoBrush
    time_cell = table.cellAt(1, 1).firstCursorPosition().block()
    assert time_cell.text() == "41.2 s"
    assert time_cell.blockFormat().alignment() & time_cell.blockFormat().alignment().AlignRight


def test_nested_lists_indent_by_a_small_step_and_sit_close(qapp: Any) -> None:
    doc = _doc("- one\n- two\n  - nested\n\nAfter the list.")
    two, nested = _block(doc, "two"), _block(doc, "nested")
    step = nested.layout().lineAt(0).x() - two.layout().lineAt(0).x()
    assert step == pytest.approx(LIST_INDENT, abs=1)
    assert _top(doc, "nested") - _bottom(doc, "two") < _top(doc, "After") - _bottom(doc, "nested")


def test_no_blank_line_under_a_closing_code_block(qapp: Any) -> None:
    doc = _doc("Here:\n\n```python\nx = 1\n```\n")
    below_code = doc.size().height() - _bottom(doc, "x = 1")
    assert below_code <= CODE_PADDING + 3  # the cell's padding and border, no blank line


def test_space_after_a_code_block_is_not_a_blank_line(qapp: Any) -> None:
    doc = _doc("Para one.\n\n```\nx = 1\n```\n\nPara two.\n\nPara three.")
    after_code = _top(doc, "Para two") - _bottom(doc, "x = 1")
    after_para = _top(doc, "Para three") - _bottom(doc, "Para two")
    assert after_para == BLOCK_SPACING
    assert after_code <= CODE_PADDING + 1 + BLOCK_SPACING + 3


def test_long_unbroken_lines_wrap_inside_the_width(qapp: Any) -> None:
    """Prose and inline code wrap (code blocks scroll instead: test_bubble_selection)."""
    token = "x" * 400
    doc = _doc(f"See {token}\n\n`{token}`\n")
    assert doc.idealWidth() <= WIDTH
    assert doc.size().width() <= WIDTH


def test_code_blocks_keep_their_indentation(qapp: Any) -> None:
    code = "def f():\n    if x:\n\treturn 1\n        # deep"
    doc = _doc(f"```python\n{code}\n```\n")
    plain = doc.toPlainText()
    for line in code.splitlines():
        assert line in plain
