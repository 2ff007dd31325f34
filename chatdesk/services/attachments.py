"""Use cases on attached files: add one (from a path or pasted bytes), read a message's,
find a stored file, free unused ones and sweep what a crash left.

Adding copies the file in once (``attachment_files``), tells its type from the copy
(``attachment_types``), then stores the row (or finds it: the same content is one row
and one file) and a hold for the person, in one transaction. Until a message links it,
only that person may send it, and nothing frees it for ``HOLD_S``. A file goes only
after the transaction that removed its row committed; a crash in between leaves an
orphan file, which ``sweep`` (run at start-up, in the background) removes, never a row
without its file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from chatdesk.services import attachment_links as links
from chatdesk.services.attachment_files import PLACING, AttachmentFiles, Incoming
from chatdesk.services.attachment_types import MAX_FILE_BYTES, FileType, as_declared, identify
from chatdesk.services.errors import NotFoundError, ServiceError, ValidationError
from chatdesk.services.records import AttachmentRecord
from chatdesk.services.unit_of_work import UnitOfWork, after_commit, owned_message
from chatdesk.store.base import utcnow
from chatdesk.store.models import Attachment, AttachmentHold, Message

log = logging.getLogger(__name__)

HOLD_S = 3600.0
"""How long an attachment nobody sent (or whose message was deleted with Undo offered)
is kept for the person who holds it."""
_CHECK_CHUNK = 500


@dataclass(frozen=True)
class Swept:
    """What a sweep removed: rows nobody used any more, files without a row, and
    temporary copies a crash left."""

    rows: int
    files: int
    copies: int


@dataclass(frozen=True)
class Carried:
    """An attachment as a file from elsewhere (an archive, an export) declares it."""

    sha256: str
    size: int
    mime_type: str
    kind: str
    created_at: datetime | None = None


class AttachmentService:
    """Attachments of the acting user: add, read, find on disk, free."""

    def __init__(self, uow: UnitOfWork, files: AttachmentFiles) -> None:
        self._uow = uow
        self.files = files

    def add(self, user_id: int, path: Path | str) -> AttachmentRecord:
        """Copy the file at ``path`` in and hold it for ``user_id`` until sent.

        The original is read once, here; a file that cannot be attached raises
        ``ValidationError`` with a sentence saying why, leaving nothing stored.
        """
        source = Path(path)
        name = links.clean_file_name(source.name)
        return self._keep(user_id, self.files.receive(source, MAX_FILE_BYTES), name)

    def add_bytes(self, user_id: int, data: bytes, name: str) -> AttachmentRecord:
        """``add`` for bytes in memory (a pasted image), named ``name``."""
        name = links.clean_file_name(name)
        return self._keep(user_id, self.files.receive_bytes(data, name, MAX_FILE_BYTES), name)

    def restore(
        self, holder_id: int, carried: Carried, chunks: Callable[[], Iterator[bytes]], label: str
    ) -> int:
        """The id of the attachment ``carried`` declares, held for ``holder_id`` (an
        import's staging user): the one stored already (nothing is copied), or a copy
        of ``chunks()`` whose SHA-256 (computed while copying) and size are what was
        declared and whose type the stored-file checks accept as declared. A refusal
        (``ValidationError`` naming ``label``) leaves no new file.
        """
        with PLACING, self._uow.write(background=True) as (session, _changes):
            row = session.scalar(select(Attachment).where(Attachment.sha256 == carried.sha256))
            if row is not None and self.files.has(row.sha256, row.size_bytes):
                links.hold(session, holder_id, [row.id])
                return row.id
        incoming = self.files.receive_stream(chunks(), label, MAX_FILE_BYTES)
        try:
            if (incoming.sha256, incoming.size) != (carried.sha256, carried.size):
                raise ValidationError(
                    f"{label} does not hold the file it names: its bytes ({incoming.size:,}) "
                    f"have another SHA-256 or size than declared ({carried.size:,})."
                )
            found = as_declared(
                identify(incoming.temp, label, incoming.size),
                carried.kind,
                carried.mime_type,
                label,
            )
        except BaseException:
            self.files.discard(incoming)
            raise
        with PLACING:
            placed = self.files.place(incoming)
            try:
                with self._uow.write(background=True) as (session, _changes):
                    row = _stored(session, incoming, found, carried.created_at)
                    links.hold(session, holder_id, [row.id])
                    return row.id
            except BaseException:
                if placed:
                    self.files.remove(incoming.sha256)
                raise

    def free_held(self, holder_id: int, ids: Collection[int]) -> None:
        """Drop ``holder_id``'s holds on ``ids`` and free those nothing else keeps (an
        import that stopped); their files go once that committed."""
        if not ids:
            return
        with self._uow.write(background=True) as (session, _changes):
            links.unhold(session, holder_id, ids)
            self.free_unused(session, ids)

    def for_message(self, user_id: int, message_id: int) -> tuple[AttachmentRecord, ...]:
        """The files of a message the user owns, in order."""
        with self._uow.read() as session:
            owned_message(session, user_id, message_id)
            return links.for_messages(session, [message_id]).get(message_id, ())

    def for_messages(
        self, user_id: int, message_ids: Collection[int]
    ) -> dict[int, tuple[AttachmentRecord, ...]]:
        """The files of each of the user's messages among ``message_ids`` (a run's
        question and history, read at once; others' messages are left out)."""
        with self._uow.read() as session:
            wanted = sorted(set(message_ids))
            owned = [
                message_id
                for start in range(0, len(wanted), _CHECK_CHUNK)
                for message_id in session.scalars(
                    select(Message.id).where(
                        Message.id.in_(wanted[start : start + _CHECK_CHUNK]),
                        Message.user_id == user_id,
                    )
                )
            ]
            return links.for_messages(session, owned)

    def stored_path(self, record: AttachmentRecord) -> Path:
        """Where the stored copy of a file the caller already read is (not checked: a
        worker reading it later says itself when it is gone)."""
        return self.files.path(record.sha256)

    def path_of(self, user_id: int, attachment_id: int) -> Path:
        """The stored file of an attachment the user holds or has sent (read it there;
        never write it)."""
        with self._uow.read() as session:
            row = links.usable(session, user_id, [attachment_id])[attachment_id]
            path = self.files.path(row.sha256)
        if not path.is_file():
            raise NotFoundError(
                f"The stored copy of this attachment is missing from {self.files.root}."
            )
        return path

    def linked_by(self, session: Session, messages: ColumnElement[bool]) -> set[int]:
        """Inside a caller's transaction: the attachments the messages ``messages``
        selects link (read before deleting them, to ``free_unused`` after)."""
        return links.linked_by(session, messages)

    def free_unused(self, session: Session, ids: Collection[int]) -> None:
        """Inside a caller's write: delete the attachments among ``ids`` that nothing
        links or holds any more; their files go once that transaction committed."""
        gone = links.delete_unused(session, ids)
        if gone:
            after_commit(session, lambda: self._remove_quietly(gone))

    def sweep(self, hold_s: float = HOLD_S) -> Swept:
        """Drop holds older than ``hold_s``, then the attachments nothing keeps, the
        files no row names and temporary copies older than ``hold_s``.

        Background transactions: the window's writes go first.
        """
        cutoff = utcnow() - timedelta(seconds=hold_s)
        with self._uow.write(background=True) as (session, _changes):
            session.execute(delete(AttachmentHold).where(AttachmentHold.created_at < cutoff))
            freed = links.delete_unused(session)
        files = self._remove_files([*freed, *self.files.stored()], background=True)
        copies = self.files.remove_stale_copies(hold_s)
        return Swept(len(freed), files, copies)

    def _keep(self, user_id: int, incoming: Incoming, name: str) -> AttachmentRecord:
        """Identify the copy, place it and commit its row and hold, or leave nothing."""
        try:
            found = identify(incoming.temp, name, incoming.size)
        except BaseException:
            self.files.discard(incoming)
            raise
        with PLACING:  # no file removal between the placing and the commit
            placed = self.files.place(incoming)
            try:
                with self._uow.write() as (session, _changes):
                    row = _stored(session, incoming, found)
                    links.hold(session, user_id, [row.id])
                    record = AttachmentRecord.of(row, name)
            except BaseException:
                if placed:  # a new file no committed row names
                    self.files.remove(incoming.sha256)
                raise
        return record

    def _remove_quietly(self, digests: Sequence[str]) -> None:
        self._remove_files(digests)

    def _remove_files(self, digests: Sequence[str], *, background: bool = False) -> int:
        """Delete the files of ``digests`` that no row names (checked under ``PLACING``,
        so an add of the same content meanwhile keeps its file); how many went."""
        removed = 0
        wanted = sorted(set(digests))
        for start in range(0, len(wanted), _CHECK_CHUNK):
            chunk = wanted[start : start + _CHECK_CHUNK]
            try:
                with PLACING:
                    with self._uow.read(background=background) as session:
                        named = set(
                            session.scalars(
                                select(Attachment.sha256).where(Attachment.sha256.in_(chunk))
                            )
                        )
                    for digest in chunk:
                        if digest not in named and self.files.remove(digest):
                            removed += 1
            except (OSError, ServiceError):  # the next sweep tries again
                log.warning("could not remove unused attachment files", exc_info=True)
        return removed


def _stored(
    session: Session, incoming: Incoming, found: FileType, created_at: datetime | None = None
) -> Attachment:
    """The row of this content, made now if there is none (``created_at``: a restored
    one's time)."""
    row = session.scalar(select(Attachment).where(Attachment.sha256 == incoming.sha256))
    if row is None:
        row = Attachment(
            sha256=incoming.sha256,
            size_bytes=incoming.size,
            mime_type=found.mime_type,
            kind=found.kind,
            width=found.width,
            height=found.height,
        )
        if created_at is not None:
            row.created_at = created_at
        session.add(row)
        session.flush()
    return row
