"""Use cases on a chat's tool rules: switch a server or tool off, allow one for the chat.

Why in the store and not in settings: an approval is given *in a chat* ("Allow for
this chat") and must neither leak into other chats nor be lost with a restart; it is
deleted with the chat. ``tool`` is ``server`` or ``server/tool`` as mcp.json names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from chatdesk.services.errors import ValidationError
from chatdesk.services.threads import thread_updated
from chatdesk.services.unit_of_work import UnitOfWork, owned_thread
from chatdesk.store.models import ThreadToolRule
from chatdesk.vocabulary import ToolRule

MAX_TOOL_REF_CHARS = 300


@dataclass(frozen=True)
class ChatToolRules:
    """What one chat says about its tools."""

    disabled: frozenset[str] = frozenset()
    approved: frozenset[str] = frozenset()


def _clean_ref(tool: str) -> str:
    ref = tool.strip()
    server, _, name = ref.partition("/")
    if not server or "/" in name or len(ref) > MAX_TOOL_REF_CHARS or any(c.isspace() for c in ref):
        raise ValidationError(f"Not a tool name: {tool!r} (expected 'server' or 'server/tool').")
    return ref


class ToolRuleService:
    """Tool rules of one user's chats; every call names the acting user."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def rules(self, user_id: int, thread_id: int) -> ChatToolRules:
        with self._uow.read() as session:
            owned_thread(session, user_id, thread_id)
            rows = session.execute(
                select(ThreadToolRule.tool, ThreadToolRule.rule).where(
                    ThreadToolRule.thread_id == thread_id
                )
            ).all()
        return ChatToolRules(
            disabled=frozenset(tool for tool, rule in rows if rule == ToolRule.DISABLED),
            approved=frozenset(tool for tool, rule in rows if rule == ToolRule.APPROVED),
        )

    def set_rule(self, user_id: int, thread_id: int, tool: str, rule: ToolRule, on: bool) -> None:
        """Add (``on``) or remove one rule; a rule already as asked publishes nothing."""
        ref = _clean_ref(tool)
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            existing = session.scalar(
                select(ThreadToolRule.id).where(
                    ThreadToolRule.thread_id == thread_id,
                    ThreadToolRule.tool == ref,
                    ThreadToolRule.rule == rule,
                )
            )
            if on == (existing is not None):
                return
            if on:
                session.add(ThreadToolRule(thread_id=thread_id, tool=ref, rule=rule))
            else:
                session.execute(delete(ThreadToolRule).where(ThreadToolRule.id == existing))
            session.flush()
            changes.append(
                thread_updated(thread, {"tool_rules": {"tool": ref, "rule": rule.value, "on": on}})
            )
