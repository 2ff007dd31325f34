"""Every chat of an archive imported as one batch: all of them or none.

Pass one checks each chat file (``TransferService.check``) and that it holds what the
manifest says (a manifest that lies about its counts is refused before anything is
written); then every chat is staged in one ``ImportBatch`` and published together.
Chats imported before (the same file, still here) are skipped and named, unless
``again``; when every chat was, ``AlreadyImportedError``.

A restored history looks as it did: each chat keeps its last activity (its place in the
chat list), and its title unless the person already had a chat of that name (two chats
of the archive may share one, "New chat" often does; only a chat from before the import
makes it "(imported)"). A problem in a chat file is told with the member's name
(``chats/0002-x.json: messages[3].role: ...``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import select, update

from chatdesk.services import attachment_transfer
from chatdesk.services.archive import MANIFEST, ArchivedChat, ArchiveError, ArchiveProgress
from chatdesk.services.archive_reading import Archive, read_manifest
from chatdesk.services.attachments import Carried
from chatdesk.services.errors import ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.import_batch import ImportBatch, known_imports, refuse_known
from chatdesk.services.records import ThreadRecord
from chatdesk.services.transfer import (
    CheckedFile,
    ImportCancelled,
    ImportProgress,
    ImportStage,
    ImportSteps,
    TransferService,
)
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.models import Thread

ArchiveProgressCallback = Callable[[ArchiveProgress], None]


@dataclass(frozen=True)
class ArchiveImport:
    """What an archive import added (in the archive's order) and what it skipped."""

    threads: tuple[ThreadRecord, ...]
    messages: int
    executions: int
    skipped: tuple[tuple[str, str], ...] = ()
    """Title and reason of each chat left out."""


def import_archive(
    transfer: TransferService,
    uow: UnitOfWork,
    user_id: int,
    path: Path | str,
    *,
    on_progress: ArchiveProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    again: bool = False,
) -> ArchiveImport:
    """Import every chat of the archive at ``path`` as new chats of ``user_id``."""
    with read_manifest(path) as archive:
        chats = archive.chats
        total = sum(chat.messages for chat in chats)
        told = _Told(on_progress, should_stop, len(chats), total)
        checked = [_check(transfer, archive, n, chat, told) for n, chat in enumerate(chats)]
        carried = {one.sha256: one for one in archive.attachments}
        skipped: list[tuple[str, str]] = []
        wanted = list(zip(chats, checked, strict=True))
        if not again:
            titles = {one.plan.imported_from: one.plan.thread.title for one in checked}
            refuse_known(uow, user_id, titles)
            known = known_imports(uow, user_id, titles)
            skipped = [
                (c.title, "imported before") for c, one in wanted if one.plan.imported_from in known
            ]
            wanted = [(c, one) for c, one in wanted if one.plan.imported_from not in known]
        titles_before = _titles(uow, user_id)
        order = wanted[::-1]  # the oldest first, so new ids keep the chats' order
        used = {sha256 for _chat, one in wanted for sha256 in one.plan.attachments}
        with ImportBatch(uow, user_id, transfer.attachments) as batch:
            for sha256 in sorted(used):
                told.stop_check()
                _restore(batch, archive, carried[sha256], told)
            done = 0
            for n, (chat, one) in enumerate(order):
                staged = transfer.stage(batch, one, told.steps(n, chat, done))
                _keep_activity(uow, staged, one)
                done += chat.messages
            records = batch.publish()  # in the order staged
        named = [one.plan.thread.title for _chat, one in order]
        records = _keep_titles(uow, user_id, records, named, titles_before)
    records.reverse()  # the archive's order
    return ArchiveImport(
        tuple(records),
        sum(one.plan.messages for _chat, one in wanted),
        sum(one.plan.executions for _chat, one in wanted),
        tuple(skipped),
    )


class _Told:
    """Each chat's import progress told as the archive's: chat n of N, messages done."""

    def __init__(
        self,
        on_progress: ArchiveProgressCallback | None,
        should_stop: Callable[[], bool] | None,
        chats: int,
        total: int,
    ) -> None:
        self._on_progress = on_progress
        self._should_stop = should_stop
        self._chats = chats
        self._total = total

    def stop_check(self) -> None:
        if self._should_stop is not None and self._should_stop():
            raise ImportCancelled

    def steps(self, n: int, chat: ArchivedChat, done: int = 0) -> ImportSteps:
        title = chat.title

        def report(progress: ImportProgress) -> None:
            written = progress.done if progress.stage is ImportStage.WRITING else 0
            assert self._on_progress is not None
            self._on_progress(
                ArchiveProgress(n + 1, self._chats, title, done + written, self._total)
            )

        return ImportSteps(report if self._on_progress else None, self._should_stop)


def _check(
    transfer: TransferService, archive: Archive, n: int, chat: ArchivedChat, told: _Told
) -> CheckedFile:
    """Pass one of a chat file, and the manifest's word about it."""
    try:
        checked = transfer.check(
            partial(archive.open, chat.json), archive.size(chat.json), told.steps(n, chat)
        )
    except ArchiveError:
        raise
    except ValidationError as error:
        raise ArchiveError(f"{archive.place}: {chat.json}: {error}") from None
    plan = checked.plan
    missing = sorted(plan.attachments - {one.sha256 for one in archive.attachments})
    if missing:
        raise ArchiveError(
            f"{archive.place}: {chat.json} names the attached file {missing[0]}, which "
            f"{MANIFEST} does not list."
        )
    if (plan.messages, plan.executions) != (chat.messages, chat.executions):
        raise ArchiveError(
            f"{archive.place}: {MANIFEST} says {chat.json} holds {chat.messages:,} messages "
            f"and {chat.executions:,} runs; it holds {plan.messages:,} and {plan.executions:,}."
        )
    return checked


_CHUNK = 1 << 20


def _restore(batch: ImportBatch, archive: Archive, carried: Carried, told: _Told) -> None:
    """One attached file of the archive into the store (checked while copied), held by
    the batch."""
    member = attachment_transfer.member_name(carried.sha256)
    label = f"{archive.place}: {member}"

    def chunks() -> Iterator[bytes]:
        read = 0
        with archive.open(member) as source:
            while True:
                told.stop_check()
                try:
                    chunk = source.read(_CHUNK)
                except (zipfile.BadZipFile, OSError) as error:
                    raise ArchiveError(f"{label} cannot be read ({error}).") from None
                if not chunk:
                    return
                read += len(chunk)
                if read > carried.size:
                    raise ArchiveError(
                        f"{label} holds more than the {carried.size:,} bytes {MANIFEST} says."
                    )
                yield chunk

    try:
        batch.restore_attachment(carried, chunks, label)
    except ArchiveError:
        raise
    except ValidationError as error:
        raise ArchiveError(str(error)) from None


def _keep_activity(uow: UnitOfWork, staged: int, checked: CheckedFile) -> None:
    """The staged chat's last activity as the archive says (it orders the chat list)."""
    updated: datetime | None = checked.plan.thread.extras.updated_at
    if updated is None:
        return
    with uow.write(background=True) as (session, _changes):
        session.execute(
            update(Thread).where(Thread.id == staged).values(updated_at=updated),
            execution_options={"synchronize_session": False},
        )


def _titles(uow: UnitOfWork, user_id: int) -> set[str]:
    with uow.read(background=True) as session:
        return set(session.scalars(select(Thread.title).where(Thread.user_id == user_id)))


def _keep_titles(
    uow: UnitOfWork,
    user_id: int,
    records: list[ThreadRecord],
    titles: list[str],
    titles_before: set[str],
) -> list[ThreadRecord]:
    """Give back the archive's ``titles`` that were marked "(imported)" only because of
    another chat of the same archive (not one the person had before)."""
    renamed = {
        record.id: title
        for record, title in zip(records, titles, strict=True)
        if record.title != title and title not in titles_before
    }
    if not renamed:
        return records
    with uow.write(background=True) as (session, changes):
        for thread_id, title in renamed.items():
            session.execute(
                update(Thread)
                .where(Thread.id == thread_id, Thread.user_id == user_id)
                .values(title=title, updated_at=Thread.updated_at),
                execution_options={"synchronize_session": False},
            )
        rows = session.scalars(select(Thread).where(Thread.id.in_(list(renamed))))
        fresh = {row.id: ThreadRecord.of(row) for row in rows}
        changes.extend(
            Change(ChangeKind.UPDATED, Entity.THREAD, r.id, r.id, user_id, {"title": r.title}, r)
            for r in fresh.values()
        )
    return [fresh.get(record.id, record) for record in records]
