"""What a chat keeps beside its messages and runs, in a chatdesk JSON export and back.

The ``"thread"`` object of an export carries, besides its title, crew, model and prompt:
``pinned``, ``draft`` (what was typed and not sent), ``updated_at`` (its last activity,
which orders the chat list) and ``tool_rules`` (the tools this chat switched off or
allowed without asking: ``[{"tool", "rule", "created_at"}]``), ``knowledge`` (the
documents the chat keeps for every reply: ``[{"sha256", "file_name", "added_at"}]``,
their files carried like the messages' attachments) and ``model_settings`` (the
chat's own temperature, top_p, max_tokens, context_tokens, reasoning_effort: the set
ones only, checked by ``chatdesk.model_params``). Older chatdesks ignore them; a
file without them imports as an unpinned chat with no draft, rules, knowledge or
settings of its own.

A one-chat import is new activity and sorts on top (``updated_at`` is the import's
time); an archive import puts each chat's ``updated_at`` back (``archive.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chatdesk.model_params import NO_PARAMS, ModelParamError, ModelParams
from chatdesk.redact import redact_known
from chatdesk.services.attachment_links import clean_file_name
from chatdesk.services.attachment_transfer import checked_digest
from chatdesk.services.chat_model_settings import of_thread
from chatdesk.services.errors import ValidationError
from chatdesk.services.knowledge import MAX_KNOWLEDGE_FILES
from chatdesk.services.messages import MAX_CONTENT_CHARS
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.models import Attachment, Thread, ThreadKnowledge, ThreadToolRule
from chatdesk.vocabulary import ToolRule

MAX_TOOL_RULES = 10_000
MAX_TOOL_CHARS = 300
_NOT_STORABLE = re.compile("[\ud800-\udfff\x00]")


class ExtrasError(ValidationError):
    """A chat setting that cannot be imported; the message names its place."""


@dataclass(frozen=True)
class ChatExtras:
    """A chat's settings beyond its title, crew, model and prompt, checked."""

    pinned: bool = False
    draft: str = ""
    updated_at: datetime | None = None
    tool_rules: tuple[tuple[str, ToolRule, datetime | None], ...] = ()
    knowledge: tuple[tuple[str, str, datetime | None], ...] = ()
    """The chat's documents: digest, name, when added."""
    model_settings: ModelParams = NO_PARAMS


NONE = ChatExtras()
"""A file without extras: an unpinned chat with no draft and no rules."""


def exported(session: Session, thread: Thread) -> dict[str, Any]:
    """The extra members of an export's ``"thread"`` object."""
    rules = session.execute(
        select(ThreadToolRule.tool, ThreadToolRule.rule, ThreadToolRule.created_at)
        .where(ThreadToolRule.thread_id == thread.id)
        .order_by(ThreadToolRule.id)
    )
    kept = session.execute(
        select(Attachment.sha256, ThreadKnowledge.file_name, ThreadKnowledge.added_at)
        .join(Attachment, Attachment.id == ThreadKnowledge.attachment_id)
        .where(ThreadKnowledge.thread_id == thread.id)
        .order_by(ThreadKnowledge.added_at, Attachment.sha256)
    )
    return {
        "knowledge": [
            {"sha256": digest, "file_name": name, "added_at": _stamp(added)}
            for digest, name, added in kept
        ],
        "model_settings": of_thread(thread).to_dict(),
        "pinned": thread.pinned,
        "draft": redact_known(thread.draft or ""),
        "updated_at": _stamp(thread.updated_at),
        "tool_rules": [
            {"tool": tool, "rule": ToolRule(rule).value, "created_at": _stamp(created)}
            for tool, rule, created in rules
        ],
    }


def checked(thread: dict[str, Any]) -> ChatExtras:
    """The extras of an export's ``"thread"`` object; raises ``ExtrasError``."""
    pinned = thread.get("pinned")
    if pinned is not None and type(pinned) is not bool:
        raise ExtrasError("thread.pinned: expected true or false.")
    draft = thread.get("draft")
    if draft is not None and not isinstance(draft, str):
        raise ExtrasError("thread.draft: expected text.")
    if draft is not None and len(draft) > MAX_CONTENT_CHARS:
        raise ExtrasError(f"thread.draft: at most {MAX_CONTENT_CHARS:,} characters.")
    if draft is not None and _NOT_STORABLE.search(draft):
        raise ExtrasError("thread.draft: holds a NUL character or a lone surrogate.")
    return ChatExtras(
        pinned=bool(pinned),
        draft=draft or "",
        updated_at=_moment(thread.get("updated_at"), "thread.updated_at"),
        tool_rules=_rules(thread.get("tool_rules")),
        knowledge=_knowledge(thread.get("knowledge")),
        model_settings=_model_settings(thread.get("model_settings")),
    )


def _model_settings(value: object) -> ModelParams:
    try:
        return ModelParams.from_dict(value, "thread.model_settings")
    except ModelParamError as error:
        raise ExtrasError(str(error)) from None


def _knowledge(value: object) -> tuple[tuple[str, str, datetime | None], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ExtrasError("thread.knowledge: expected a list.")
    if len(value) > MAX_KNOWLEDGE_FILES:
        raise ExtrasError(f"thread.knowledge: at most {MAX_KNOWLEDGE_FILES} documents.")
    kept: dict[str, tuple[str, str, datetime | None]] = {}
    for n, item in enumerate(value):
        where = f"thread.knowledge[{n}]"
        if not isinstance(item, dict):
            raise ExtrasError(f"{where}: expected an object.")
        try:
            digest = checked_digest(item.get("sha256"), f"{where}.sha256")
        except ValidationError as error:
            raise ExtrasError(str(error)) from None
        name = item.get("file_name")
        if not isinstance(name, str) or not name.strip() or _NOT_STORABLE.search(name):
            raise ExtrasError(f"{where}.file_name: expected a file name.")
        if digest in kept:
            raise ExtrasError(f"{where}: the document {digest[:12]}… comes twice.")
        added = _moment(item.get("added_at"), f"{where}.added_at")
        kept[digest] = (digest, clean_file_name(name), added)
    return tuple(kept.values())


def _rules(value: object) -> tuple[tuple[str, ToolRule, datetime | None], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ExtrasError("thread.tool_rules: expected a list.")
    if len(value) > MAX_TOOL_RULES:
        raise ExtrasError(f"thread.tool_rules: at most {MAX_TOOL_RULES:,} rules.")
    rules: list[tuple[str, ToolRule, datetime | None]] = []
    seen: set[tuple[str, ToolRule]] = set()
    for n, item in enumerate(value):
        where = f"thread.tool_rules[{n}]"
        if not isinstance(item, dict):
            raise ExtrasError(f"{where}: expected an object.")
        tool = item.get("tool")
        if not isinstance(tool, str) or not tool.strip() or len(tool) > MAX_TOOL_CHARS:
            raise ExtrasError(f"{where}.tool: expected a tool name of 1 to {MAX_TOOL_CHARS}.")
        if _NOT_STORABLE.search(tool):
            raise ExtrasError(f"{where}.tool: holds a NUL character or a lone surrogate.")
        try:
            rule = ToolRule(item.get("rule"))  # type: ignore[arg-type]  # refused below
        except ValueError:
            allowed = ", ".join(member.value for member in ToolRule)
            raise ExtrasError(f"{where}.rule: expected one of {allowed}.") from None
        if (tool, rule) in seen:
            raise ExtrasError(f"{where}: the rule {rule.value} for {tool!r} comes twice.")
        seen.add((tool, rule))
        rules.append((tool, rule, _moment(item.get("created_at"), f"{where}.created_at")))
    return tuple(rules)


def stage_rules(uow: UnitOfWork, thread_id: int, extras: ChatExtras) -> None:
    """Write a staged thread's tool rules (they move with it when it is published)."""
    if not extras.tool_rules:
        return
    with uow.write(background=True) as (session, _changes):
        session.execute(
            insert(ThreadToolRule),
            [
                {"thread_id": thread_id, "tool": tool, "rule": rule}
                | ({"created_at": created} if created is not None else {})
                for tool, rule, created in extras.tool_rules
            ],
        )


def stage_knowledge(
    uow: UnitOfWork, thread_id: int, extras: ChatExtras, attachment_ids: Mapping[str, int]
) -> None:
    """Write a staged thread's documents (their files restored already, by digest)."""
    if not extras.knowledge:
        return
    with uow.write(background=True) as (session, _changes):
        session.execute(
            insert(ThreadKnowledge),
            [
                {"thread_id": thread_id, "attachment_id": attachment_ids[digest], "file_name": name}
                | ({"added_at": added} if added is not None else {})
                for digest, name, added in extras.knowledge
            ],
        )


def _stamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _moment(value: object, where: str) -> datetime | None:
    """An ISO 8601 time with a zone (``None`` when absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExtrasError(f"{where}: expected an ISO 8601 time as text.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ExtrasError(f"{where}: not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise ExtrasError(f"{where}: the time has no time zone.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ExtrasError(
            f"{where}: year {moment.year} with a time zone is out of range."
        ) from None
