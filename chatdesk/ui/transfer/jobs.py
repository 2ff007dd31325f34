"""What importing and exporting a chat run off the GUI thread, as ``chatdesk.ui.tasks``
work (started ``gui_first``).

Exporting a 100,000-message chat takes ~2 s of Python formatting. Its reading session
begins deferred (``UnitOfWork.read``): on SQLite it reads a snapshot beside the writer,
so replies stream and messages send meanwhile, and the file is written whole or not at
all (``TransferService``'s atomic write).

Importing calls ``ImportService.import_path`` with the window's own services: the
engine's pool hands the task's thread a SQLite connection of its own, and the service
keeps its write transactions short, so the GUI thread's reads and writes go on
meanwhile. The thread it creates is announced on the change bus, which delivers on the
GUI thread (``chatdesk.ui.bridge``). Cancelled, it deletes what it wrote, then says so.
"""

from __future__ import annotations

from pathlib import Path

from chatdesk.services.foreign.chat import Source
from chatdesk.services.foreign_import import ImportSummary
from chatdesk.services.importing import ImportService
from chatdesk.services.transfer import ImportCancelled, TransferService
from chatdesk.ui.tasks import Cancelled, TaskControl, Work


def export_work(
    transfer: TransferService, user_id: int, thread_id: int, kind: str, path: Path
) -> Work:
    """Write one chat to ``path`` as ``kind`` (``markdown``: the path shown,
    ``markdown-all``: every version, or ``json``); returns the path."""

    def work(_control: TaskControl) -> Path:
        if kind == "json":
            transfer.export_json(user_id, thread_id, path)
        else:
            transfer.export_markdown(user_id, thread_id, path, all_branches=kind == "markdown-all")
        return path

    return work


def import_work(
    imports: ImportService, user_id: int, path: Path, source: Source | None, again: bool
) -> Work:
    """Read a file of chats in (its format found from its content unless ``source``
    says); returns the ``ImportSummary``."""

    def work(control: TaskControl) -> ImportSummary:
        try:
            return imports.import_path(
                user_id,
                path,
                source=source,
                again=again,
                on_progress=control.progress,
                should_stop=control.stopping,
            )
        except ImportCancelled:
            raise Cancelled from None

    return work
