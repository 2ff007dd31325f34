"""History is trimmed to its budget, newest messages first."""

from __future__ import annotations

from chatdesk.engine.history import ELLIPSIS, NO_HISTORY, format_history
from chatdesk.engine.protocol import ChatMessage


def test_empty_history() -> None:
    assert format_history([], 1000) == NO_HISTORY
    assert format_history([ChatMessage("user", "   ")], 1000) == NO_HISTORY


def test_everything_fits() -> None:
    text = format_history([ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello!")], 1000)
    assert text == "User: Hi\n\nAssistant: Hello!"


def test_oldest_messages_are_dropped_and_budget_holds() -> None:
    messages = [ChatMessage("user", f"message number {i} " + "x" * 50) for i in range(100)]
    text = format_history(messages, 500)
    assert len(text) <= 500
    assert "message number 99" in text
    assert "message number 0 " not in text
    assert text.index("message number 98") < text.index("message number 99")


def test_a_long_message_keeps_its_end() -> None:
    text = format_history([ChatMessage("user", "start " + "y" * 1000 + " end")], 100)
    assert len(text) <= 100
    assert text.startswith("User: " + ELLIPSIS)
    assert text.endswith(" end")
