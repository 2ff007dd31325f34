"""Exports one chat on a worker thread, so a long chat never freezes the window.

Writing a 100,000-message chat takes ~2 s of Python formatting. Its reading session
begins deferred (``UnitOfWork.read``): on SQLite it reads a snapshot beside the
writer, so replies stream and messages send meanwhile, and the file is written whole
or not at all (``TransferService``'s atomic write). The outcome comes back as one
queued signal (``BackgroundJob``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from chatdesk.services.transfer import TransferService
from chatdesk.ui.background_job import BackgroundJob, failure_reason


class ExportTask(BackgroundJob):
    """One chat written to ``path`` as ``kind`` (``markdown`` or ``json``).

    Signals:
        done: the file written (Path), or None and why not (str), then nothing more.
    """

    done = Signal(object, str)

    def __init__(
        self,
        transfer: TransferService,
        user_id: int,
        thread_id: int,
        kind: str,
        path: Path,
        parent: QObject | None = None,
    ) -> None:
        super().__init__("chatdesk-export", parent)
        self.path = path
        self._export = transfer.export_markdown if kind == "markdown" else transfer.export_json
        self._user_id = user_id
        self._thread_id = thread_id

    def _work(self) -> None:
        try:
            self._export(self._user_id, self._thread_id, self.path)
        except Exception as error:
            self._emit(self.done, None, failure_reason(error, f"export of {self.path.name}"))
        else:
            self._emit(self.done, self.path, "")
