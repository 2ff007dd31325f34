"""Small moves around a chat's messages: quoting one in the next message, and finding
the person's own messages (their questions are the landmarks of a long chat).

Pure functions over the message list's rows; ``message_view`` and ``chat_actions``
wire them to the bubble menu, the Chat menu and their shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable

from chatdesk.services.records import MessageRecord
from chatdesk.vocabulary import Role

MAX_QUOTE_CHARS = 2_000
"""A quote longer than this is cut (with an ellipsis): a reply is quoted to answer a
point of it, not to send it back whole."""


def quoted(text: str) -> str:
    """``text`` as a Markdown quote, each line marked, then an empty line to write in."""
    text = text.strip()
    if len(text) > MAX_QUOTE_CHARS:
        text = text[:MAX_QUOTE_CHARS].rstrip() + " …"
    lines = [f"> {line}" if line.strip() else ">" for line in text.splitlines()]
    return "\n".join(lines) + "\n\n"


def next_of_mine(
    rows: int, record_at: Callable[[int], MessageRecord | None], start: int, step: int
) -> int | None:
    """The row of the person's nearest message after ``start`` going ``step`` (+1 down,
    -1 up) among ``rows`` rows; None when there is none that way."""
    row = start + step
    while 0 <= row < rows:
        record = record_at(row)
        if record is not None and record.role is Role.USER:
            return row
        row += step
    return None
