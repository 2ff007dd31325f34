"""Imports one chat file on a worker thread, so a big file never freezes the window.

The worker calls ``TransferService.import_file`` with the window's own services: the
engine's pool hands that thread a SQLite connection of its own, and the service keeps
its write transactions short (see ``chatdesk.services.transfer``), so the GUI thread's
reads and writes go on meanwhile. The thread it creates is announced on the change bus,
which delivers on the GUI thread (``chatdesk.ui.bridge``). Progress and the outcome come
back as queued signals (``BackgroundJob``, which also keeps the GUI first meanwhile).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from chatdesk.services.transfer import ImportCancelled, ImportProgress, TransferService
from chatdesk.ui.background_job import BackgroundJob, failure_reason


class ImportTask(BackgroundJob):
    """One file's import, started by ``start()``, stoppable by ``cancel()``.

    Exactly one of ``succeeded``, ``failed`` or ``cancelled`` is emitted, then ``ended``.

    Signals:
        progressed: how far it got (ImportProgress).
        succeeded: the chat is in (ImportResult).
        failed: it could not be imported and nothing was kept (str, for a person).
        cancelled: it stopped on request and nothing was kept.
        ended: after any of the three.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()

    def __init__(
        self,
        transfer: TransferService,
        user_id: int,
        path: Path,
        parent: QObject | None = None,
    ) -> None:
        super().__init__("chatdesk-import", parent)
        self.path = path
        self._transfer = transfer
        self._user_id = user_id
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Ask the import to stop; it deletes what it wrote, then emits ``cancelled``."""
        self._stop.set()

    @property
    def cancelling(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Cancel, wait a little for the clean-up and emit nothing more (window closing).

        Rows an import had no time to delete belong to no one the app shows; the next
        import deletes them.
        """
        self._stop.set()
        super().close()

    # -- the worker thread ------------------------------------------------------------

    def _work(self) -> None:
        try:
            result = self._transfer.import_file(
                self._user_id,
                self.path,
                on_progress=self._on_progress,
                should_stop=self._stop.is_set,
            )
        except ImportCancelled:
            self._emit(self.cancelled)
        except Exception as error:
            self._emit(self.failed, failure_reason(error, f"import of {self.path.name}"))
        else:
            self._emit(self.succeeded, result)
        self._emit(self.ended)

    def _on_progress(self, progress: ImportProgress) -> None:
        self._emit(self.progressed, progress)
