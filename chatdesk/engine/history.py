"""Turn a thread's prior messages into the conversation text a crew's prompt gets.

Why: models have a finite context and local ones a small one, so the history is
trimmed to a character budget, keeping the newest messages (the ones the new
message most likely refers to). Pure Python, no CrewAI.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatdesk.engine.protocol import ChatMessage

_LABELS = {"user": "User", "assistant": "Assistant", "system": "System"}
NO_HISTORY = "(This is the start of the conversation.)"
ELLIPSIS = "…"


def format_history(messages: Sequence[ChatMessage], budget_chars: int) -> str:
    """The newest messages that fit in ``budget_chars``, oldest first, one block each.

    A message too long for what is left of the budget is cut at its start (its end is
    usually what matters), marked with an ellipsis; older messages are then dropped.
    Empty messages are skipped. Returns :data:`NO_HISTORY` when nothing is left.
    """
    blocks: list[str] = []
    remaining = budget_chars
    for message in reversed(messages):
        content = message.content.strip()
        if not content:
            continue
        label = _LABELS.get(message.role, message.role.title())
        prefix = f"{label}: "
        block = prefix + content
        cost = len(block) + (2 if blocks else 0)  # blank line between blocks
        if cost <= remaining:
            blocks.append(block)
            remaining -= cost
            continue
        room = remaining - len(prefix) - len(ELLIPSIS) - (2 if blocks else 0)
        if room > 0:
            blocks.append(prefix + ELLIPSIS + content[-room:])
        break
    if not blocks:
        return NO_HISTORY
    return "\n\n".join(reversed(blocks))
