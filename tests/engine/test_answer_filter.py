"""The live text shows only the answer, however the model's text is chunked."""

from __future__ import annotations

import pytest

from chatdesk.engine.answer_filter import AnswerStreamFilter


def stream(text: str, size: int) -> str:
    f = AnswerStreamFilter()
    return "".join(f.feed(text[i : i + size]) for i in range(0, len(text), size))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 1000])
@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("Thought: I now can give a great answer\nFinal Answer: Hello", "Hello"),
        ("Thought: hmm\nFinal Answer:   Two\nlines", "Two\nlines"),
        ("Final Answer: direct", "direct"),
        ("  \nPlain answer without wrapper", "Plain answer without wrapper"),
        ("Thought: I need a tool\nAction: search\nAction Input: {}", ""),
        ("Thought: only, never finished", ""),
        ("Thoughtful plain reply", "Thoughtful plain reply"),
        ("Thanks! Final answers are fun.", "Thanks! Final answers are fun."),
        ("Fine, thanks", "Fine, thanks"),
    ],
)
def test_visible_text(raw: str, visible: str, size: int) -> None:
    assert stream(raw, size) == visible


def test_empty_deltas_are_harmless() -> None:
    f = AnswerStreamFilter()
    assert f.feed("") == ""
    assert f.feed("Final Answer: x") == "x"
    assert f.feed("") == ""
