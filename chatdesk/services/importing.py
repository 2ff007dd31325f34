"""Import any file chatdesk reads: the one door the window and the command line use.

The file's content says what it is (``foreign.detect``); the person may say instead.
chatdesk's own chat JSON and archives go through ``TransferService`` (checked whole
first, executions and Run details kept); other apps' exports through the readers and
``ForeignWriter``, one conversation at a time. Either way one file is one batch: all of
its chats appear, or none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chatdesk.services.archive import ArchiveProgress
from chatdesk.services.foreign.chat import FormatError, Source
from chatdesk.services.foreign.detect import detect
from chatdesk.services.foreign_import import ALREADY, ForeignWriter, ImportSummary, Skipped
from chatdesk.services.import_batch import AlreadyImportedError, ImportBatch, left_behind, recover
from chatdesk.services.transfer import (
    ImportProgress,
    ImportStage,
    ImportSteps,
    ProgressCallback,
    TransferError,
    TransferService,
)
from chatdesk.services.unit_of_work import UnitOfWork


class ImportService:
    """Reads a file of chats in as new chats of the person, all or nothing."""

    def __init__(self, uow: UnitOfWork, transfer: TransferService) -> None:
        self._uow = uow
        self._transfer = transfer

    def left_behind(self) -> bool:
        """Whether a killed import left chats to finish showing or to delete."""
        return left_behind(self._uow)

    def recover(self) -> int:
        """Finish what a killed import left (``import_batch``); the chats it showed."""
        return recover(self._uow)

    def import_path(
        self,
        user_id: int,
        path: Path | str,
        *,
        source: Source | None = None,
        again: bool = False,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ImportSummary:
        """Import ``path`` (its format found from its content unless ``source`` says).

        Raises ``TransferError`` naming the place of a problem, ``ImportCancelled``
        when stopped, ``AlreadyImportedError`` when every chat is here already (unless
        ``again``); nothing of the file is kept then.
        """
        path = Path(path)
        try:
            export = detect(path, source)
        except FormatError as error:
            raise TransferError(str(error)) from None
        if export.source is Source.CHATDESK:
            result = self._transfer.import_file(
                user_id, path, on_progress=on_progress, should_stop=should_stop, again=again
            )
            return ImportSummary(
                Source.CHATDESK, [result.thread], result.messages, result.executions
            )
        if export.source is Source.CHATDESK_ARCHIVE:

            def told(progress: ArchiveProgress) -> None:
                if on_progress is not None:
                    stage, done, total = ImportStage.WRITING, progress.messages, progress.total
                    on_progress(ImportProgress(stage, done, total))

            archive = self._transfer.import_archive(
                user_id, path, on_progress=told, should_stop=should_stop, again=again
            )
            return ImportSummary(
                Source.CHATDESK_ARCHIVE,
                list(archive.threads),
                archive.messages,
                archive.executions,
                [Skipped(title, reason) for title, reason in archive.skipped],
            )
        steps = ImportSteps(on_progress, should_stop)
        summary = ImportSummary(export.source)
        read = 0

        def step(done: int) -> None:
            nonlocal read
            read = done
            steps(ImportStage.IMPORTING, done, export.size)

        try:
            with ImportBatch(self._uow, user_id) as batch:
                batch.on_discard = lambda done, total: steps.report(
                    ImportStage.DISCARDING, done, total
                )
                writer = ForeignWriter(
                    self._uow, batch, summary, again=again, step=lambda: step(read)
                )
                writer.write_all(export.chats(step))
                steps(ImportStage.IMPORTING, export.size, export.size)
                if not batch.staged_threads and summary.skipped:
                    already = [s.title for s in summary.skipped if s.reason == ALREADY]
                    if len(already) == len(summary.skipped):
                        raise AlreadyImportedError(already)
                summary.chats = batch.publish(
                    lambda done, total: steps.report(ImportStage.PUBLISHING, done, total)
                )
        except FormatError as error:
            raise TransferError(str(error)) from None
        return summary
