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

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chatdesk.services.attachment_links import clean_file_name
from chatdesk.services.attachment_types import MAX_FILE_BYTES, MAX_FILES_PER_MESSAGE
from chatdesk.services.attachments import Carried
from chatdesk.services.errors import ValidationError
from chatdesk.store.models import Attachment, Message, MessageAttachment, ThreadKnowledge
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


_RAW_CHUNK = 3 << 18
"""Bytes per base64 piece written (a multiple of 3: the pieces join into one text)."""


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


def shown_by_message(session: Session, thread_id: int) -> dict[int, list[tuple[str, int, str]]]:
    """Each message of the thread that carries files: their names, sizes and types."""
    query = (
        select(
            MessageAttachment.message_id,
            MessageAttachment.file_name,
            Attachment.size_bytes,
            Attachment.mime_type,
        )
        .join(Attachment, Attachment.id == MessageAttachment.attachment_id)
        .join(Message, Message.id == MessageAttachment.message_id)
        .where(Message.thread_id == thread_id)
        .order_by(MessageAttachment.message_id, MessageAttachment.position)
    )
    found: dict[int, list[tuple[str, int, str]]] = {}
    for message_id, file_name, size, mime_type in session.execute(query):
        found.setdefault(message_id, []).append((file_name, size, mime_type))
    return found


def carried_by(session: Session, thread_id: int) -> list[Carried]:
    """Every attachment the thread's messages carry or it keeps as knowledge, once each,
    by digest."""
    query = (
        select(Attachment)
        .where(
            Attachment.id.in_(
                select(MessageAttachment.attachment_id)
                .join(Message, Message.id == MessageAttachment.message_id)
                .where(Message.thread_id == thread_id)
            )
            | Attachment.id.in_(
                select(ThreadKnowledge.attachment_id).where(ThreadKnowledge.thread_id == thread_id)
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


def write_base64(path: Path, out: TextIO) -> None:
    """The stored file at ``path`` as base64 text, a piece at a time."""
    with path.open("rb") as source:
        while chunk := source.read(_RAW_CHUNK):
            out.write(base64.b64encode(chunk).decode("ascii"))


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


def checked_embedded(item: object, where: str) -> Carried:
    """A one-chat JSON's ``attachments[n]``: its description checked, and its ``data``
    base64 of exactly the bytes described (size and SHA-256)."""
    carried = checked_entry(item, where)
    assert isinstance(item, dict)  # checked_entry saw it
    digest = hashlib.sha256()
    size = 0
    for chunk in base64_chunks(item.get("data"), f"{where}.data"):
        size += len(chunk)
        digest.update(chunk)
    if (size, digest.hexdigest()) != (carried.size, carried.sha256):
        raise AttachmentTransferError(
            f"{where}.data: {size:,} bytes whose SHA-256 or size is not the one described."
        )
    return carried


_B64_CHUNK = 4 << 18


def base64_chunks(data: object, where: str) -> Iterator[bytes]:
    """The bytes the base64 text ``data`` holds, a piece at a time."""
    if not isinstance(data, str):
        raise AttachmentTransferError(f"{where}: expected base64 text.")
    if len(data) > 4 * ((MAX_FILE_BYTES + 2) // 3):
        raise AttachmentTransferError(f"{where}: larger than the most a file attached can be.")
    for start in range(0, len(data), _B64_CHUNK):
        try:
            yield base64.b64decode(data[start : start + _B64_CHUNK], validate=True)
        except (binascii.Error, ValueError):
            raise AttachmentTransferError(f"{where}: not base64.") from None


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
