"""File > Export all chats…: reads the chats, asks where, writes the archive in the
background (a ``ui/tasks.py`` task, ``gui_first``), tells the result (``notices``).

The file dialog is opened by ``choose_archive_path`` only, so tests replace that one
method, as they replace ``ChatActions.choose_export_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from chatdesk.services.archive import ArchiveCancelled, ArchiveProgress, ExportResult
from chatdesk.ui.tasks import Cancelled, Task, TaskControl, Tasks, Work, failure_reason
from chatdesk.ui.transfer.export_dialog import ExportChatsDialog

if TYPE_CHECKING:
    from chatdesk.services.transfer import TransferService
    from chatdesk.ui.notices import Notices

SUGGESTED = "chatdesk chats"


def archive_work(
    transfer: TransferService, user_id: int, thread_ids: list[int], target: Path, as_zip: bool
) -> Work:
    """Write the chats ``thread_ids`` as an archive at ``target``; returns the result."""

    def work(control: TaskControl) -> ExportResult:
        try:
            return transfer.export_archive(
                user_id,
                target,
                thread_ids,
                as_zip=as_zip,
                on_progress=control.progress,
                should_stop=control.stopping,
            )
        except ArchiveCancelled:
            raise Cancelled from None

    return work


def _chats_work(transfer: TransferService, user_id: int) -> Work:
    return lambda _control: transfer.archive_choices(user_id)


class ExportAll(QObject):
    """The "Export all chats…" command of one window."""

    def __init__(
        self,
        transfer: TransferService,
        user_id: int,
        tasks: Tasks,
        notices: Notices,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._transfer = transfer
        self._user_id = user_id
        self._tasks = tasks
        self._notices = notices
        self._parent = parent
        self.dialog: ExportChatsDialog | None = None
        self.task: Task | None = None

    def open_dialog(self) -> ExportChatsDialog:
        """Show the dialog (the one open already, if any) and list the chats in it."""
        if self.dialog is None:
            self.dialog = ExportChatsDialog(self._parent)
            self.dialog.export_requested.connect(self.on_export_requested)
            self.dialog.cancel_requested.connect(self.cancel)
        dialog = self.dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        if self.task is None:
            listing = self._tasks.start(
                "chatdesk-export-list", _chats_work(self._transfer, self._user_id)
            )
            listing.succeeded.connect(dialog.set_chats)
            listing.failed.connect(self.on_failed)
        return dialog

    def choose_archive_path(self, as_zip: bool) -> str | None:
        """Ask where to write the archive (a dialog); tests replace this method."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        suggested = str(Path(folder) / SUGGESTED)
        if as_zip:
            path, _filter = QFileDialog.getSaveFileName(
                self._parent, "Export chats", suggested + ".zip", "Zip archive (*.zip)"
            )
        else:
            path, _filter = QFileDialog.getSaveFileName(
                self._parent, "Export chats into a new folder", suggested, "Folder (*)"
            )
        return path or None

    def on_export_requested(self, thread_ids: list[int], as_zip: bool) -> Task | None:
        """Ask where, then write the archive in the background."""
        if self.task is not None or not thread_ids:
            return None
        chosen = self.choose_archive_path(as_zip)
        if not chosen:
            return None
        target = Path(chosen)
        if as_zip and target.suffix.lower() != ".zip":
            target = target.with_name(target.name + ".zip")
        work = archive_work(self._transfer, self._user_id, thread_ids, target, as_zip)
        task = self._tasks.start("chatdesk-export-archive", work, gui_first=True)
        task.progressed.connect(self.on_progress)
        task.succeeded.connect(self.on_exported)
        task.failed.connect(self.on_failed)
        task.cancelled.connect(self.on_cancelled)
        task.ended.connect(self.on_ended)
        self.task = task
        if self.dialog is not None:
            self.dialog.begin()
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def on_progress(self, progress: object) -> None:
        if self.dialog is not None and isinstance(progress, ArchiveProgress):
            self.dialog.show_progress(progress)

    def on_exported(self, result: ExportResult) -> None:
        chats = f"{result.chats:,} chat{'' if result.chats == 1 else 's'}"
        text = f"Exported {chats} ({result.messages:,} messages) to {result.path.name}"
        if result.skipped:
            text += f"; {len(result.skipped):,} deleted meanwhile were left out"
        self._notices.info(text)

    def on_failed(self, error: BaseException) -> None:
        self._notices.error(f"Could not export the chats: {failure_reason(error, 'export')}")

    def on_cancelled(self) -> None:
        self._notices.info("Export cancelled; nothing was written.")

    def on_ended(self) -> None:
        self.task = None
        if self.dialog is not None:
            self.dialog.finish()
