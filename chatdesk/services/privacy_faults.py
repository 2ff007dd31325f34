"""A change the database's row-level security refused, told as a sentence.

On a team database (PostgreSQL, ``docs/TEAM.md``) each person's rows are invisible and
unwritable to the others. The services never aim at another person's rows, so a refusal
(SQLSTATE ``42501`` naming a row-level security policy) means a row changed hands or
someone tampered: the person reads which kind of row was refused, not a traceback.
Missing grants (``permission denied for table``) are the start-up's errors, not these.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError

from chatdesk.services.errors import PermissionDeniedError

INSUFFICIENT_PRIVILEGE = "42501"
_POLICY_TABLE = re.compile(r'row-level security policy (?:"[^"]*" )?for table "([^"]+)"')

_WHAT = {
    "users": "a person",
    "threads": "a chat",
    "messages": "a message",
    "executions": "a reply's run",
    "execution_logs": "a run's step",
    "thread_tool_rules": "a chat's tool rule",
    "thread_knowledge": "a chat's knowledge",
    "message_attachments": "a message's attached file",
    "attachment_holds": "an attached file",
    "attachments": "an attached file",
    "prompts": "a saved prompt",
}


def privacy_refusal(error: DBAPIError) -> PermissionDeniedError | None:
    """The person-readable refusal behind ``error``; None when it is not a policy's."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
        return None
    found = _POLICY_TABLE.search(str(orig))
    if found is None:
        return None
    what = _WHAT.get(found.group(1), f"a row of “{found.group(1)}”")
    return PermissionDeniedError(
        f"The database refused to write {what} that is not yours (each person's chats "
        "are private on this shared database). Nothing was saved."
    )
