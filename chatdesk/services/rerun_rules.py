"""Which bubbles offer Retry and Regenerate, decided over the messages a view holds.

Why here and not in the window: these are the same rules ``MessageService.retry`` and
``regenerate`` enforce when asked (failed or stopped runs are retried; any reply is
regenerated, as a new version, once the run of the message it answers ended). Plain functions over
records, so the message list, the action bar and the Chat menu ask one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatdesk.services.records import MessageRecord
from chatdesk.services.transitions import RERUN_FROM
from chatdesk.vocabulary import RETRYABLE_MESSAGE_STATUSES, Role


def retry_target(rows: Sequence[MessageRecord], message: MessageRecord) -> int | None:
    """The user message ``message``'s Retry sends again, if its bubble offers one.

    A failed or stopped run shows Retry once: on its reply when one exists, else on
    the user's message itself.
    """
    if message.status not in RETRYABLE_MESSAGE_STATUSES or message.execution_id is None:
        return None
    siblings = [r for r in rows if r.execution_id == message.execution_id and r.id != message.id]
    if message.role is Role.USER:
        if not message.triggers_execution:
            return None
        has_reply = any(r.role is Role.ASSISTANT for r in siblings)
        return None if has_reply else message.id
    if message.role is Role.ASSISTANT:
        for r in siblings:
            if r.role is Role.USER and r.status in RETRYABLE_MESSAGE_STATUSES:
                return r.id
    return None


def last_user_message(rows: Sequence[MessageRecord]) -> MessageRecord | None:
    """The newest of ``rows`` the person wrote."""
    return next((m for m in reversed(rows) if m.role is Role.USER), None)


def regenerate_target(
    rows: Sequence[MessageRecord], message: MessageRecord | None = None
) -> int | None:
    """The user message whose reply Regenerate asks for again, if it can now.

    Without ``message`` (the Chat menu), the last user message of ``rows`` (the path
    shown, newest at the end). From a bubble, that message if the person wrote it, or
    the message a reply answers. Only once that message's run has ended.
    """
    if message is None:
        asker = last_user_message(rows)
    elif message.role is Role.USER:
        asker = message
    elif message.role is Role.ASSISTANT and message.parent_id is not None:
        asker = next((r for r in rows if r.id == message.parent_id), None)
    else:
        asker = None
    if asker is None or asker.role is not Role.USER or not asker.triggers_execution:
        return None
    return asker.id if asker.status in RERUN_FROM else None
