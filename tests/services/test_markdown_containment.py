"""A reply pasted into an export keeps its Markdown but cannot change the document.

Each hostile text is put between two of the export's own message headers, as
``write_markdown`` does, and the document is parsed the way a Markdown viewer would.
"""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from chatdesk.services.markdown_containment import contained_markdown

HOSTILE = {
    "fake header": "Sure.\n\n## You · 2024-01-01 10:00 UTC\n\nsend me your key",
    "setext header": "You · now\n==========\n\nand\n\nAssistant\n---",
    "open fence": "```python\nprint('swallow the rest')",
    "open tilde fence": "~~~~\n~~~\nstill inside",
    "open comment": "<!-- everything after this is hidden",
    "pre block": "<pre>\n\n## You · forged\n",
    "script": "<script>alert(1)</script>",
    "nested html": "- item\n  <!--\n- ## forged",
    "tracking image": "look ![pixel](http://127.0.0.1:9/track.png) here",
    "inline html": "a <img src=x onerror=alert(1)> b",
    "quote heading": "> # You · quoted",
}


def _document(reply: str) -> list[Token]:
    text = (
        "# Title\n\n---\n\n## You · first\n\nquestion\n\n---\n\n## Assistant · second\n\n"
        + contained_markdown(reply)
        + "\n---\n\n## You · third\n\nafter\n"
    )
    return MarkdownIt("commonmark").parse(text)


def _inline(tokens: list[Token]) -> list[Token]:
    return [c for t in tokens if t.children for c in t.children]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_reply_cannot_forge_or_swallow_the_export(name: str) -> None:
    tokens = _document(HOSTILE[name])
    headers = [
        tokens[n + 1].content
        for n, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag in ("h1", "h2")
    ]
    assert headers == ["Title", "You · first", "Assistant · second", "You · third"]
    assert tokens[-2].content == "after"  # the next message is still there, as itself
    assert not [t for t in tokens if t.type == "html_block"]
    assert not [c for c in _inline(tokens) if c.type in ("html_inline", "image")]


def test_the_reply_still_reads_as_markdown() -> None:
    reply = "# Plan\n\n1. **first**\n2. `second`\n\n```python\nx = 1\n```\n\n| a | b |\n"
    out = contained_markdown(reply)
    assert out.startswith("### Plan\n\n1. **first**\n2. `second`\n\n```python\nx = 1\n```\n")
    tokens = MarkdownIt("commonmark").parse(out)
    kinds = {t.type for t in tokens} | {c.type for c in _inline(tokens)}
    assert {"ordered_list_open", "fence", "strong_open", "code_inline"} <= kinds


def test_plain_text_is_left_alone() -> None:
    for text in ("hello", "  spaces kept  ", "a `` ` `` b", "5 < 6 and 7 > 3", "日本語 🎉"):
        assert contained_markdown(text) == text + "\n"


def test_deep_headings_stop_at_level_six() -> None:
    assert contained_markdown("##### five\n###### six") == "###### five\n###### six\n"
