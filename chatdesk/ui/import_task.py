"""Imports one chat file on a worker thread, so a big file never freezes the window.

The worker calls ``TransferService.import_file`` with the window's own services: the
engine's pool hands that thread a SQLite connection of its own, and the service keeps
its write transactions short (see ``chatdesk.services.transfer``), so the GUI thread's
reads and writes go on meanwhile. The thread it creates is announced on the change bus,
which delivers on the GUI thread (``chatdesk.ui.bridge``). Progress and the outcome come
back as signals of this object, queued to the GUI thread like ``SearchRunner``'s.

Two process-wide settings change while it runs, so the GUI thread gets the GIL when it
needs it (measured on a 100,000-message import, see the tests' notes):

- Python's automatic garbage collection is off: the import builds a few hundred
  thousand objects, which set off full collections that stop every thread for up to
  300 ms each. The import makes no reference cycles (its objects go with their last
  reference), so nothing piles up meanwhile.
- The GIL switch interval drops from 5 ms to ``SWITCH_INTERVAL_S``. A thread that
  wants the GIL back waits one interval, and the GUI gives it up at every Qt or SQLite
  call, so switching to another chat (~100 such calls) took 0.5-1 s beside a busy
  worker instead of 30 ms.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Signal, SignalInstance
from sqlalchemy.exc import SQLAlchemyError

from chatdesk.services.errors import ServiceError
from chatdesk.services.transfer import ImportCancelled, ImportProgress, TransferService

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0
"""How long closing the window waits for a cancelled import to clean up."""
SWITCH_INTERVAL_S = 0.0005


class ImportTask(QObject):
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
        super().__init__(parent)
        self.path = path
        self._transfer = transfer
        self._user_id = user_id
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="chatdesk-import", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Ask the import to stop; it deletes what it wrote, then emits ``cancelled``."""
        self._stop.set()

    @property
    def cancelling(self) -> bool:
        return self._stop.is_set()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Cancel, wait a little for the clean-up and emit nothing more (window closing).

        Rows an import had no time to delete belong to no one the app shows; the next
        import deletes them.
        """
        self._stop.set()
        with self._lock:
            self._closed = True
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)

    # -- the worker thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            with gui_first():
                result = self._transfer.import_file(
                    self._user_id,
                    self.path,
                    on_progress=self._on_progress,
                    should_stop=self._stop.is_set,
                )
        except ImportCancelled:
            self._emit(self.cancelled)
        except ServiceError as error:
            self._emit(self.failed, str(error))
        except (SQLAlchemyError, OSError) as error:
            log.warning("import of %s failed: %s", self.path.name, error)
            self._emit(self.failed, f"the database refused it ({error.__class__.__name__}).")
        except Exception:
            log.exception("import of %s failed", self.path.name)
            self._emit(self.failed, "an unexpected error stopped it (see the log).")
        else:
            self._emit(self.succeeded, result)
        self._emit(self.ended)

    def _on_progress(self, progress: ImportProgress) -> None:
        self._emit(self.progressed, progress)

    def _emit(self, signal: SignalInstance, *args: object) -> None:
        """Emit unless the window closed (its receivers may be gone)."""
        with self._lock:
            if not self._closed:
                signal.emit(*args)


class _GuiFirst:
    """Counts the background jobs running: the first one in changes the settings, the
    last one out puts back what was there before (an import and an export may overlap)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs = 0
        self._saved: tuple[bool, float] = (True, 0.005)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._jobs == 0:
                self._saved = (gc.isenabled(), sys.getswitchinterval())
                gc.disable()
                sys.setswitchinterval(min(self._saved[1], SWITCH_INTERVAL_S))
            self._jobs += 1
        try:
            yield
        finally:
            with self._lock:
                self._jobs -= 1
                if self._jobs == 0:
                    collecting, interval = self._saved
                    sys.setswitchinterval(interval)
                    if collecting:
                        gc.enable()


gui_first = _GuiFirst()
"""No automatic GC and a short GIL switch interval while a background job runs (module doc)."""
