"""Which messages carry which attachments, who may use one, and when one is unused.

Functions over a caller's transaction, shared by the services that send, copy and
delete messages. An attachment is usable by a person who holds it (they added it and
have not sent it yet), whose message links it or whose chat keeps it as knowledge;
anybody else is refused, whatever id they name. An attachment is unused once no link,
no knowledge and no hold remains: its row goes in
the transaction that removed the last one, and its file after that commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, exists, insert, select
from sqlalchemy.orm import Session

from chatdesk.services.attachment_types import MAX_FILES_PER_MESSAGE
from chatdesk.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from chatdesk.services.records import AttachmentRecord
from chatdesk.services.threads import sanitise_title
from chatdesk.store.base import utcnow
from chatdesk.store.models import (
    Attachment,
    AttachmentHold,
    Message,
    MessageAttachment,
    Thread,
    ThreadKnowledge,
)

MAX_FILE_NAME_CHARS = 255
GONE = "An attached file is no longer available; attach it again."
_IN_CHUNK = 500
"""Ids per IN list (SQLite caps bound variables)."""


def clean_file_name(name: str) -> str:
    """The name a file is shown under: its last path part, on one visible line, at most
    ``MAX_FILE_NAME_CHARS`` (the extension kept)."""
    base = sanitise_title(name.replace("\\", "/").rsplit("/", 1)[-1])
    if len(base) > MAX_FILE_NAME_CHARS:
        _stem, dot, suffix = base.rpartition(".")
        keep = f"{dot}{suffix}" if dot and len(suffix) < 16 else ""
        base = base[: MAX_FILE_NAME_CHARS - len(keep) - 1].rstrip() + "…" + keep
    return base or "attachment"


def check_files_count(count: int) -> None:
    if count > MAX_FILES_PER_MESSAGE:
        raise ValidationError(
            f"A message can carry at most {MAX_FILES_PER_MESSAGE} files; this one has {count}."
        )


def usable(session: Session, user_id: int, ids: Collection[int]) -> dict[int, Attachment]:
    """The attachments of ``ids`` if ``user_id`` may use every one of them."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = {
        row.id: row for row in session.scalars(select(Attachment).where(_in(Attachment.id, wanted)))
    }
    if set(rows) != wanted:
        raise NotFoundError(GONE)
    held = set(
        session.scalars(
            select(AttachmentHold.attachment_id).where(
                AttachmentHold.user_id == user_id, _in(AttachmentHold.attachment_id, wanted)
            )
        )
    )
    rest = wanted - held
    if rest:
        linked = set(
            session.scalars(
                select(MessageAttachment.attachment_id)
                .join(Message, Message.id == MessageAttachment.message_id)
                .where(Message.user_id == user_id, _in(MessageAttachment.attachment_id, rest))
            )
        )
        rest -= linked
    if rest:
        known = set(
            session.scalars(
                select(ThreadKnowledge.attachment_id)
                .join(Thread, Thread.id == ThreadKnowledge.thread_id)
                .where(Thread.user_id == user_id, _in(ThreadKnowledge.attachment_id, rest))
            )
        )
        if rest - known:
            raise PermissionDeniedError("That attachment belongs to another user.")
    return rows


def link(
    session: Session, user_id: int, message_id: int, files: Sequence[AttachmentRecord]
) -> tuple[AttachmentRecord, ...]:
    """Attach ``files`` to the new message ``message_id`` in order; their holds end."""
    check_files_count(len(files))
    if not files:
        return ()
    rows = usable(session, user_id, [file.id for file in files])
    names = [clean_file_name(file.file_name) for file in files]
    session.execute(
        insert(MessageAttachment),
        [
            {"message_id": message_id, "position": at, "attachment_id": file.id, "file_name": name}
            for at, (file, name) in enumerate(zip(files, names, strict=True))
        ],
    )
    unhold(session, user_id, rows)
    return tuple(AttachmentRecord.of(rows[f.id], n) for f, n in zip(files, names, strict=True))


def copy(session: Session, new_ids: Mapping[int, int]) -> None:
    """Give each new message of ``new_ids`` (old id -> new id) the old one's files."""
    olds = list(new_ids)
    for start in range(0, len(olds), _IN_CHUNK):
        rows = session.execute(
            select(MessageAttachment).where(
                MessageAttachment.message_id.in_(olds[start : start + _IN_CHUNK])
            )
        ).scalars()
        copies = [
            {
                "message_id": new_ids[row.message_id],
                "position": row.position,
                "attachment_id": row.attachment_id,
                "file_name": row.file_name,
            }
            for row in rows
        ]
        if copies:
            session.execute(insert(MessageAttachment), copies)


def for_messages(
    session: Session, message_ids: Iterable[int]
) -> dict[int, tuple[AttachmentRecord, ...]]:
    """Each message's files in order, read in one query per 500 messages."""
    found: dict[int, list[AttachmentRecord]] = {}
    ids = sorted(set(message_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        rows = session.execute(
            select(MessageAttachment.message_id, MessageAttachment.file_name, Attachment)
            .join(Attachment, Attachment.id == MessageAttachment.attachment_id)
            .where(MessageAttachment.message_id.in_(ids[start : start + _IN_CHUNK]))
            .order_by(MessageAttachment.message_id, MessageAttachment.position)
        )
        for message_id, name, attachment in rows:
            found.setdefault(message_id, []).append(AttachmentRecord.of(attachment, name))
    return {message_id: tuple(files) for message_id, files in found.items()}


def linked_by(
    session: Session, messages: ColumnElement[bool], params: Mapping[str, Any] | None = None
) -> set[int]:
    """The attachments linked from the messages ``messages`` selects."""
    query = (
        select(MessageAttachment.attachment_id)
        .join(Message, Message.id == MessageAttachment.message_id)
        .where(messages)
        .distinct()
    )
    return set(session.scalars(query, params or {}))


def links_of(
    session: Session, messages: ColumnElement[bool], params: Mapping[str, Any]
) -> tuple[dict[str, Any], ...]:
    """The link rows of the messages ``messages`` selects, as the database holds them."""
    table = MessageAttachment.__table__
    assert isinstance(table, Table)
    query = select(table).join(Message, Message.id == table.c.message_id).where(messages)
    return tuple(dict(row) for row in session.execute(query, params).mappings())


def put_back(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert kept link rows again; refused if one of their files went meanwhile."""
    if not rows:
        return
    wanted = {row["attachment_id"] for row in rows}
    present = {
        found
        for chunk in _chunks(wanted)
        for found in session.scalars(select(Attachment.id).where(Attachment.id.in_(chunk)))
    }
    if present != wanted:
        raise ValidationError("A file attached in that branch is gone; it cannot be undone.")
    session.execute(insert(MessageAttachment), [dict(row) for row in rows])


def hold(session: Session, user_id: int, ids: Collection[int], at: datetime | None = None) -> None:
    """``user_id`` holds ``ids`` from now (again): they may send them, nothing frees them."""
    if not ids:
        return
    unhold(session, user_id, ids)
    when = at or utcnow()
    session.execute(
        insert(AttachmentHold),
        [{"user_id": user_id, "attachment_id": i, "created_at": when} for i in sorted(ids)],
    )


def unhold(session: Session, user_id: int, ids: Collection[int]) -> None:
    for chunk in _chunks(ids):
        session.execute(
            delete(AttachmentHold).where(
                AttachmentHold.user_id == user_id, AttachmentHold.attachment_id.in_(chunk)
            )
        )


def delete_unused(session: Session, ids: Collection[int] | None = None) -> list[str]:
    """Delete the attachments among ``ids`` (None: all) that no link and no hold keeps;
    the digests of the files that may go once this transaction committed."""
    unused = select(Attachment.id, Attachment.sha256).where(
        ~exists().where(MessageAttachment.attachment_id == Attachment.id),
        ~exists().where(AttachmentHold.attachment_id == Attachment.id),
        ~exists().where(ThreadKnowledge.attachment_id == Attachment.id),
    )
    queries = (
        [unused]
        if ids is None
        else [unused.where(Attachment.id.in_(chunk)) for chunk in _chunks(ids)]
    )
    rows = [row for query in queries for row in session.execute(query).all()]
    for chunk in _chunks([row.id for row in rows]):
        session.execute(
            delete(Attachment).where(Attachment.id.in_(chunk)),
            execution_options={"synchronize_session": False},
        )
    return [row.sha256 for row in rows]


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    """``ids`` sorted, in IN lists SQLite accepts."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


def _in(column: Any, ids: Collection[int]) -> ColumnElement[bool]:
    """``column IN ids`` for the few ids of one message (at most 10)."""
    result: ColumnElement[bool] = column.in_(sorted(ids))
    return result
