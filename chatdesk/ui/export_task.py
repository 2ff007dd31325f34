"""Exports one chat on a worker thread, so a long chat never freezes the window.

Writing a 100,000-message chat takes ~2 s of Python formatting. Its reading session
begins deferred (``UnitOfWork.read``): on SQLite it reads a snapshot beside the
writer, so replies stream and messages send meanwhile, and the file is written whole
or not at all (``TransferService``'s atomic write). The outcome comes back as one
queued signal; the GUI thread gets the GIL as during an import (``gui_first``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from sqlalchemy.exc import SQLAlchemyError

from chatdesk.services.errors import ServiceError
from chatdesk.services.transfer import TransferService
from chatdesk.ui.import_task import JOIN_TIMEOUT_S, gui_first

log = logging.getLogger(__name__)


class ExportTask(QObject):
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
        super().__init__(parent)
        self.path = path
        self._export = transfer.export_markdown if kind == "markdown" else transfer.export_json
        self._user_id = user_id
        self._thread_id = thread_id
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="chatdesk-export", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """The window is closing: let the file be finished (briefly), report nothing."""
        with self._lock:
            self._closed = True
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)

    def _run(self) -> None:
        written: Path | None = None
        reason = ""
        try:
            with gui_first():
                self._export(self._user_id, self._thread_id, self.path)
            written = self.path
        except (ServiceError, OSError) as error:
            reason = str(error)
        except SQLAlchemyError as error:
            reason = f"the database refused it ({error.__class__.__name__})."
        except Exception:
            log.exception("export of thread %s failed", self._thread_id)
            reason = "an unexpected error stopped it (see the log)."
        if reason:
            log.warning("export of thread %s failed: %s", self._thread_id, reason)
        with self._lock:
            if not self._closed:
                self.done.emit(written, reason)
