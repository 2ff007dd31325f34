"""Attached files in exports and imports: what a chat's messages carry, and back.

A message of the chatdesk JSON names its files (``"attachments": [{"sha256",
"file_name", "position"}]``); the bytes travel beside it, described once each
(``{"sha256", "size", "mime_type", "kind", "created_at"}``): an archive's
``attachments/<sha256>`` members listed in its manifest, or base64 in a one-chat JSON's
top-level ``"attachments"``. Everything read back is checked as any file from elsewhere
(a digest that is not one, a size past the limits, a message naming a file nobody
carries); the bytes themselves are checked while they are copied in
(``AttachmentService.restore``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chatdesk.services.attachment_links import clean_file_name
from chatdesk.services.attachment_types import MAX_FILE_BYTES, MAX_FILES_PER_MESSAGE
from chatdesk.services.attachments import Carried
from chatdesk.services.errors import ValidationError
from chatdesk.store.models import Attachment, Message, MessageAttachment
from chatdesk.vocabulary import AttachmentKind

MEMBER_DIR = "attachments"
SHA256 = re.compile("[0-9a-f]{64}")


class AttachmentTransferError(ValidationError):
    """An attachment entry that cannot be imported; the message names its place."""


@dataclass(frozen=True)
class Link:
    """A message's file as a file names it."""

    sha256: str
    file_name: str
    position: int


def member_name(sha256: str) -> str:
    return f"{MEMBER_DIR}/{sha256}"


# -- export ---------------------------------------------------------------------------------


def links_by_message(session: Session, thread_id: int) -> dict[int, list[dict[str, Any]]]:
    """Each message of the thread that carries files: its links as exported, in order."""
    query = (
        select(
            MessageAttachment.message_id,
            MessageAttachment.position,
            MessageAttachment.file_name,
            Attachment.sha256,
        )
        .join(Attachment, Attachment.id == MessageAttachment.attachment_id)
        .join(Message, Message.id == MessageAttachment.message_id)
        .where(Message.thread_id == thread_id)
        .order_by(MessageAttachment.message_id, MessageAttachment.position)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for message_id, position, file_name, sha256 in session.execute(query):
        found.setdefault(message_id, []).append(
            {"sha256": sha256, "file_name": file_name, "position": position}
        )
    return found


def carried_by(session: Session, thread_id: int) -> list[Carried]:
    """Every attachment the thread's messages carry, once each, by digest."""
    query = (
        select(Attachment)
        .where(
            Attachment.id.in_(
                select(MessageAttachment.attachment_id)
                .join(Message, Message.id == MessageAttachment.message_id)
                .where(Message.thread_id == thread_id)
            )
        )
        .order_by(Attachment.sha256)
    )
    return [
        Carried(
            row.sha256,
            row.size_bytes,
            row.mime_type,
            AttachmentKind(row.kind).value,
            row.created_at,
        )
        for row in session.scalars(query)
    ]


def entry(carried: Carried) -> dict[str, Any]:
    """How an export describes an attachment it carries."""
    created = carried.created_at
    return {
        "sha256": carried.sha256,
        "size": carried.size,
        "mime_type": carried.mime_type,
        "kind": carried.kind,
        "created_at": created.astimezone(UTC).isoformat() if created is not None else None,
    }


# -- import ---------------------------------------------------------------------------------


def checked_entry(item: object, where: str) -> Carried:
    """An attachment's description read back (``entry``), checked."""
    if not isinstance(item, dict):
        raise AttachmentTransferError(f"{where}: expected an object.")
    sha256 = checked_digest(item.get("sha256"), f"{where}.sha256")
    size = item.get("size")
    if type(size) is not int or not 0 < size <= MAX_FILE_BYTES:
        raise AttachmentTransferError(
            f"{where}.size: expected a whole number from 1 to {MAX_FILE_BYTES:,} "
            "(the most a file attached can be)."
        )
    mime_type = item.get("mime_type")
    if not isinstance(mime_type, str) or not 0 < len(mime_type) <= 100:
        raise AttachmentTransferError(
            f"{where}.mime_type: expected a type of up to 100 characters."
        )
    kind = item.get("kind")
    if kind not in {k.value for k in AttachmentKind}:
        allowed = ", ".join(k.value for k in AttachmentKind)
        raise AttachmentTransferError(f"{where}.kind: expected one of {allowed}.")
    assert isinstance(kind, str)
    return Carried(sha256, size, mime_type, kind, _time(item.get("created_at"), where))


def checked_digest(value: object, where: str) -> str:
    if not isinstance(value, str) or not SHA256.fullmatch(value):
        shown = repr(value)[:80]
        raise AttachmentTransferError(f"{where}: {shown} is not a SHA-256 (64 hex digits).")
    return value


def checked_links(item: Mapping[str, Any], where: str) -> tuple[Link, ...]:
    """``messages[n].attachments`` read back, checked (absent: none)."""
    value = item.get("attachments")
    if value is None:
        return ()
    where = f"{where}.attachments"
    if not isinstance(value, list):
        raise AttachmentTransferError(f"{where}: expected a list.")
    if len(value) > MAX_FILES_PER_MESSAGE:
        raise AttachmentTransferError(
            f"{where}: a message can carry at most {MAX_FILES_PER_MESSAGE} files; "
            f"this one has {len(value)}."
        )
    links: list[Link] = []
    for n, link in enumerate(value):
        at = f"{where}[{n}]"
        if not isinstance(link, dict):
            raise AttachmentTransferError(f"{at}: expected an object.")
        name = link.get("file_name")
        if not isinstance(name, str) or len(name) > 4 * 255:
            raise AttachmentTransferError(f"{at}.file_name: expected a file name.")
        position = link.get("position", n)
        if type(position) is not int or not 0 <= position < MAX_FILES_PER_MESSAGE:
            raise AttachmentTransferError(
                f"{at}.position: expected a whole number from 0 to {MAX_FILES_PER_MESSAGE - 1}."
            )
        if any(known.position == position for known in links):
            raise AttachmentTransferError(f"{at}.position: {position} is used twice.")
        links.append(
            Link(
                checked_digest(link.get("sha256"), f"{at}.sha256"), clean_file_name(name), position
            )
        )
    return tuple(links)


def write_links(
    session: Session,
    message_ids: Sequence[int],
    links: Sequence[tuple[Link, ...]],
    ids: Mapping[str, int],
) -> None:
    """Link the new messages ``message_ids`` to their files (``ids``: digest -> the
    attachment's id here), inside the caller's write transaction."""
    rows = [
        {
            "message_id": message_id,
            "position": link.position,
            "attachment_id": ids[link.sha256],
            "file_name": link.file_name,
        }
        for message_id, own in zip(message_ids, links, strict=True)
        for link in own
    ]
    if rows:
        session.execute(insert(MessageAttachment), rows)


def _time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise AttachmentTransferError(f"{where}.created_at: expected an ISO 8601 time with a zone.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise AttachmentTransferError(f"{where}.created_at: out of range.") from None
