"""Use cases on threads: create, rename, change settings, list, delete."""

from __future__ import annotations

import re
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select

from chatdesk.services.errors import ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.records import ThreadRecord
from chatdesk.services.unit_of_work import UnitOfWork, owned_thread
from chatdesk.store.models import Message, Thread, ThreadKnowledge

if TYPE_CHECKING:
    from chatdesk.services.attachments import AttachmentService

MAX_TITLE_CHARS = 200
MAX_SYSTEM_PROMPT_CHARS = 20_000
DEFAULT_TITLE = "New chat"
AUTO_TITLE_CHARS = 60
MAX_MODEL_TITLE_CHARS = 60
"""A title the model writes is cut like a first line (it is asked for six words)."""


class _Unset(Enum):
    """Marks "leave this field as it is" where None means "clear it"."""

    TOKEN = 0


_UNSET = _Unset.TOKEN


_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
"""Control characters and bidirectional marks, overrides and isolates: a title is one
line of plain text, and U+202E would show the rest of it (and of the row) reversed."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def sanitise_title(text: str) -> str:
    """``text`` as one line of visible title text (possibly empty, any length).

    Whitespace runs become one space, control and bidi formatting characters go, lone
    surrogates (not storable as UTF-8) become U+FFFD.
    """
    text = _SURROGATE.sub("\ufffd", text)
    return " ".join(_INVISIBLE.sub(" ", text).split())


def clean_title(title: str) -> str:
    """The title rule of every path that sets one (rename, first message, import)."""
    cleaned = sanitise_title(title)
    if not cleaned:
        raise ValidationError("A thread title cannot be empty.")
    if len(cleaned) > MAX_TITLE_CHARS:
        raise ValidationError(f"A thread title can have at most {MAX_TITLE_CHARS} characters.")
    return cleaned


def title_from_text(text: str, limit: int = AUTO_TITLE_CHARS) -> str:
    """A title from the first line of a message with visible text, cut at a word."""
    first = next((t for line in text.splitlines() if (t := sanitise_title(line))), "")
    if not first:
        return DEFAULT_TITLE
    limit = min(limit, MAX_TITLE_CHARS)
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:") + "…"


class ThreadService:
    """Threads of one user at a time; every call names the acting user."""

    def __init__(self, uow: UnitOfWork, attachments: AttachmentService) -> None:
        self._uow = uow
        self._attachments = attachments

    def create(
        self,
        user_id: int,
        title: str = DEFAULT_TITLE,
        *,
        crew: str = "assistant",
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> ThreadRecord:
        with self._uow.write() as (session, changes):
            thread = Thread(
                user_id=user_id,
                title=clean_title(title),
                crew=crew,
                model=model,
                system_prompt=_clean_system_prompt(system_prompt),
            )
            session.add(thread)
            session.flush()
            record = ThreadRecord.of(thread)
            changes.append(_change(ChangeKind.CREATED, record, {}))
        return record

    def get(self, user_id: int, thread_id: int) -> ThreadRecord:
        with self._uow.read() as session:
            return ThreadRecord.of(owned_thread(session, user_id, thread_id))

    def list(
        self,
        user_id: int,
        *,
        limit: int | None = None,
        after: ThreadRecord | None = None,
        title_contains: str = "",
    ) -> list[ThreadRecord]:
        """The user's threads: pinned first, then most recently active first.

        Pages by keyset: pass the last thread of a page as ``after`` to get the next,
        read straight off the ``(user_id, pinned, updated_at, id)`` index.
        ``title_contains`` keeps titles containing that text, ignoring ASCII case
        (the rule ``title_matches`` applies to threads already in hand).
        """
        query = select(Thread).where(Thread.user_id == user_id)
        needle = " ".join(title_contains.split())
        if needle:
            query = query.where(Thread.title.icontains(needle, autoescape=True))
        if after is not None:
            # pinned sorts first: past a pinned thread come unpinned ones too.
            later_group = [Thread.pinned.is_(False)] if after.pinned else []
            query = query.where(
                or_(
                    *later_group,
                    and_(Thread.pinned == after.pinned, Thread.updated_at < after.updated_at),
                    and_(
                        Thread.pinned == after.pinned,
                        Thread.updated_at == after.updated_at,
                        Thread.id < after.id,
                    ),
                )
            )
        query = query.order_by(
            Thread.pinned.desc(), Thread.updated_at.desc(), Thread.id.desc()
        ).limit(limit)
        with self._uow.read() as session:
            return [ThreadRecord.of(row) for row in session.scalars(query)]

    def count(self, user_id: int) -> int:
        """How many threads the user has (cheap: read off an index)."""
        query = select(func.count()).select_from(Thread).where(Thread.user_id == user_id)
        with self._uow.read() as session:
            return session.scalar(query) or 0

    def rename(self, user_id: int, thread_id: int, title: str) -> ThreadRecord:
        return self.update(user_id, thread_id, title=title)

    def update(
        self,
        user_id: int,
        thread_id: int,
        *,
        title: str | None = None,
        crew: str | None = None,
        model: str | _Unset | None = _UNSET,
        system_prompt: str | _Unset | None = _UNSET,
        pinned: bool | None = None,
        draft: str | None = None,
    ) -> ThreadRecord:
        """Change the given fields; an unchanged thread publishes nothing."""
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            fields: dict[str, object] = {}
            if title is not None:
                fields["title"] = clean_title(title)
            if crew is not None:
                if not crew.strip():
                    raise ValidationError("A thread needs a crew.")
                fields["crew"] = crew.strip()
            if not isinstance(model, _Unset):
                fields["model"] = (model or "").strip() or None
            if not isinstance(system_prompt, _Unset):
                fields["system_prompt"] = _clean_system_prompt(system_prompt)
            if pinned is not None:
                fields["pinned"] = pinned
            if draft is not None:
                fields["draft"] = draft
            fields = {k: v for k, v in fields.items() if getattr(thread, k) != v}
            for key, value in fields.items():
                setattr(thread, key, value)
            session.flush()
            record = ThreadRecord.of(thread)
            if fields:
                changes.append(_change(ChangeKind.UPDATED, record, fields))
        return record

    def retitle(self, user_id: int, thread_id: int, was: str, title: str) -> ThreadRecord | None:
        """Title the thread ``title`` if it is still titled ``was`` (a title written by
        the model must not overwrite one the person gave meanwhile); None when not."""
        title = title_from_text(title, MAX_MODEL_TITLE_CHARS)
        if title == DEFAULT_TITLE:
            return None
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            if thread.title != was or thread.title == title:
                return None
            thread.title = title
            session.flush()
            record = ThreadRecord.of(thread)
            changes.append(_change(ChangeKind.UPDATED, record, {"title": title}))
        return record

    def delete(self, user_id: int, thread_id: int) -> None:
        """Delete the thread; the database cascades to its messages, executions and logs
        and the messages' attachment links; files no other message uses go too."""
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            record = ThreadRecord.of(thread)
            attached = self._attachments.linked_by(session, Message.thread_id == thread.id)
            attached |= set(
                session.scalars(
                    select(ThreadKnowledge.attachment_id).where(
                        ThreadKnowledge.thread_id == thread.id
                    )
                )
            )
            session.delete(thread)
            session.flush()
            self._attachments.free_unused(session, attached)
            changes.append(
                Change(ChangeKind.DELETED, Entity.THREAD, record.id, record.id, record.user_id)
            )


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def title_matches(title: str, query: str) -> bool:
    """Whether ``list(title_contains=query)`` keeps a thread titled ``title``.

    Case is ignored for ASCII letters only, as SQLite's ``lower()`` does, so a thread
    renamed on screen and one read back from the store agree.
    """
    needle = " ".join(query.split())
    return needle.translate(_ASCII_LOWER) in title.translate(_ASCII_LOWER)


def _clean_system_prompt(prompt: str | None) -> str | None:
    if prompt is None or not prompt.strip():
        return None
    if len(prompt) > MAX_SYSTEM_PROMPT_CHARS:
        raise ValidationError(
            f"A system prompt can have at most {MAX_SYSTEM_PROMPT_CHARS} characters."
        )
    return prompt.strip()


def _change(kind: ChangeKind, record: ThreadRecord, fields: dict[str, object]) -> Change:
    return Change(kind, Entity.THREAD, record.id, record.id, record.user_id, fields, record)


def thread_updated(thread: Thread, fields: dict[str, Any]) -> Change:
    """The Change a write to one of a chat's own settings publishes (its record after)."""
    return Change(
        ChangeKind.UPDATED,
        Entity.THREAD,
        thread.id,
        thread.id,
        thread.user_id,
        fields=fields,
        record=ThreadRecord.of(thread),
    )
