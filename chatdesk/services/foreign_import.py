"""Other apps' conversations written in as chats: every version, in one batch.

A reader (``services/foreign``) yields one ``ForeignChat`` at a time, checked whole;
this writes it under the batch's hidden staging user, a chunk of messages per short
transaction, and moves on. Only when the whole file has been read does the batch
publish: a broken conversation at the end of a 1 GB export leaves nothing behind.

What maps, and where it goes:

- messages keep their role, text and original time; siblings stay versions, and the
  exported current branch is the path shown (its messages are the chosen versions);
- the other app's model name, the source's message id and anything the reader could
  not show (``notes``) go in the message's metadata, which the bubble shows; a
  chat's own notes go on its first message;
- hidden system content (custom instructions) becomes the chat's system prompt, so it
  is kept and told to the model, never shown as a bubble;
- a chat's other-app id is kept as ``threads.imported_from``: a conversation imported
  before (and still here) is skipped as "already imported", unless ``again``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, insert, select

from chatdesk.services.errors import ValidationError
from chatdesk.services.foreign.chat import ForeignChat, ForeignMessage, Source
from chatdesk.services.import_batch import ImportBatch
from chatdesk.services.messages import MAX_CONTENT_CHARS
from chatdesk.services.records import ThreadRecord
from chatdesk.services.threads import MAX_SYSTEM_PROMPT_CHARS, clean_title
from chatdesk.services.transfer import TransferError
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.base import utcnow
from chatdesk.store.models import Message, Thread
from chatdesk.vocabulary import MessageStatus

WRITE_CHUNK = 500
"""Messages per write transaction (tens of milliseconds of SQLite's write lock)."""
UNTITLED = "Imported chat"
ALREADY = "already imported"
MAX_KEY_CHARS = 300
_NOT_PLAIN = re.compile("[\ud800-\udfff\x00]")


@dataclass(frozen=True)
class Skipped:
    """A conversation of the file that was not imported, and why."""

    title: str
    reason: str


@dataclass
class ImportSummary:
    """What an import of one file did."""

    source: Source
    chats: list[ThreadRecord] = field(default_factory=list)
    messages: int = 0
    executions: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def import_key(chat: ForeignChat) -> str:
    """``threads.imported_from`` of ``chat``: its other-app id, or (none given) a
    digest of its messages, so the same conversation is recognised again."""
    if chat.source_id:
        return f"{chat.source.value}:{chat.source_id}"[:MAX_KEY_CHARS]
    digest = hashlib.sha256()
    for message in chat.messages:
        digest.update(f"{message.ref}\x1f{message.parent}\x1f{message.role}\x1f".encode())
        digest.update(message.content.encode("utf-8", "surrogatepass"))
    return f"{chat.source.value}:sha256:{digest.hexdigest()}"


def plain(text: str) -> str:
    """Text a plain column can hold: NUL and lone surrogates removed."""
    return _NOT_PLAIN.sub("", text)


class ForeignWriter:
    """Writes ``ForeignChat``s into one ``ImportBatch`` (the caller publishes it)."""

    def __init__(
        self,
        uow: UnitOfWork,
        batch: ImportBatch,
        summary: ImportSummary,
        *,
        again: bool,
        step: Callable[[], None],
    ) -> None:
        self._uow = uow
        self._batch = batch
        self._summary = summary
        self._step = step
        self._known: set[str] = set() if again else self._imported_before(summary.source)
        self._keys: list[str] = []

    def _imported_before(self, source: Source) -> set[str]:
        prefix = f"{source.value}:"
        with self._uow.read(background=True) as session:
            return {
                key
                for key in session.scalars(
                    select(Thread.imported_from).where(
                        Thread.user_id == self._batch.user_id,
                        Thread.imported_from.startswith(prefix, autoescape=True),
                    )
                )
                if key is not None
            }

    def write_all(self, chats: Iterable[ForeignChat]) -> None:
        for chat in chats:
            self.write(chat)

    def write(self, chat: ForeignChat) -> None:
        """Stage one conversation (or note it as skipped)."""
        title = _title(chat.title)
        key = import_key(chat)
        if key in self._known:
            self._summary.skipped.append(Skipped(title, ALREADY))
            return
        if not chat.messages:
            self._summary.skipped.append(Skipped(title, "it has no messages"))
            return
        self._known.add(key)  # the same conversation twice in one file: once
        rows, leaf_ref = _rows(chat)
        times = [row["created_at"] for row in rows]
        system_prompt = chat.system_prompt or None
        if system_prompt is not None and len(system_prompt) > MAX_SYSTEM_PROMPT_CHARS:
            cut = len(system_prompt) - MAX_SYSTEM_PROMPT_CHARS
            system_prompt = system_prompt[:MAX_SYSTEM_PROMPT_CHARS]
            _note(rows[0], f"The system prompt was {cut:,} characters too long and was cut.")
        created = chat.created_at or min(times)
        staged = self._batch.stage_thread(
            {
                "title": title,
                "system_prompt": system_prompt,
                "imported_from": key,
                "created_at": created,
                "updated_at": max(chat.updated_at or created, max(times)),
            }
        )
        ids: dict[str, int] = {}
        for start in range(0, len(rows), WRITE_CHUNK):
            self._step()
            self._write_chunk(staged, chat.messages[start : start + WRITE_CHUNK], rows, start, ids)
        self._batch.set_leaf(staged, ids.get(leaf_ref) if leaf_ref is not None else None)
        self._summary.messages += len(rows)

    def _write_chunk(
        self,
        thread_id: int,
        messages: list[ForeignMessage],
        rows: list[dict[str, Any]],
        start: int,
        ids: dict[str, int],
    ) -> None:
        chunk = [
            {**row, "thread_id": thread_id, "user_id": self._batch.staging_id}
            for row in rows[start : start + len(messages)]
        ]
        with self._uow.write(background=True) as (session, _changes):
            new_ids = session.scalars(
                insert(Message).returning(Message.id, sort_by_parameter_order=True), chunk
            ).all()
            links = []
            for message, new_id in zip(messages, new_ids, strict=True):
                ids[message.ref] = new_id
                parent = ids.get(message.parent) if message.parent is not None else None
                if parent is not None:
                    links.append({"child": new_id, "parent": parent})
            if links:  # parents come first, so each has its id by now
                table = Message.__table__
                assert isinstance(table, Table)
                session.execute(
                    table.update()
                    .where(table.c.id == bindparam("child"))
                    .values(parent_id=bindparam("parent"), updated_at=table.c.updated_at),
                    links,
                )


def _title(text: str) -> str:
    try:
        return clean_title(plain(text))
    except ValidationError:
        return UNTITLED


def _note(row: dict[str, Any], note: str) -> None:
    row["meta"] = {**row["meta"], "notes": [*row["meta"].get("notes", []), note]}


def _rows(chat: ForeignChat) -> tuple[list[dict[str, Any]], str | None]:
    """The message rows of ``chat`` (in its order) and the ref its path ends at.

    A message without a time takes its parent's (or the chat's); the current path's
    messages are the chosen versions (``chosen_at`` after every other sibling's).
    """
    by_ref = {message.ref: message for message in chat.messages}
    leaf = chat.current_leaf if chat.current_leaf in by_ref else None
    on_path: set[str] = set()
    ref = leaf
    while ref is not None and ref not in on_path:
        on_path.add(ref)
        ref = by_ref[ref].parent
    fallback = chat.created_at or chat.updated_at or utcnow()
    times: dict[str, datetime] = {}
    rows: list[dict[str, Any]] = []
    for message in chat.messages:
        parent_time = times.get(message.parent) if message.parent is not None else None
        created = message.created_at or parent_time or fallback
        times[message.ref] = created
        meta: dict[str, Any] = {**message.extra, "imported": chat.source.value}
        meta["source_id"] = message.ref
        if message.model:
            meta["model"] = plain(message.model)
        notes = list(message.notes)
        if not rows:
            notes = [*chat.notes, *notes]
        if notes:
            meta["notes"] = notes
        content = message.content
        if len(content) > MAX_CONTENT_CHARS:
            raise TransferError(
                f"“{_title(chat.title)}”: a message of {len(content):,} characters; "
                f"chatdesk keeps at most {MAX_CONTENT_CHARS:,}."
            )
        rows.append(
            {
                "role": message.role,
                "content": content,
                "status": MessageStatus.COMPLETED,
                "triggers_execution": False,
                "meta": meta,
                "created_at": created,
                "updated_at": created,
                "chosen_at": created,
            }
        )
    if on_path:
        chosen = max(max(times.values()), utcnow()) + timedelta(microseconds=1)
        for message, row in zip(chat.messages, rows, strict=True):
            if message.ref in on_path:
                row["chosen_at"] = chosen
    return rows, leaf
