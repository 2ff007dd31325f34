"""A long job (importing or exporting a chat) on a Python thread, the window going on.

A job's signals reach the GUI thread queued. Once the window closes (``close``), it
emits nothing more: its receivers may be gone.

While any job runs, two process-wide settings change so the GUI thread gets the GIL
when it needs it (measured on a 100,000-message import):

- Python's automatic garbage collection is off: a job builds a few hundred thousand
  objects, which set off full collections that stop every thread for up to 300 ms
  each. The jobs make no reference cycles (their objects go with their last
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

from PySide6.QtCore import QObject, SignalInstance

from chatdesk.services.errors import ServiceError

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0
"""How long closing the window waits for a job to finish (or clean up after a cancel)."""
SWITCH_INTERVAL_S = 0.0005


class BackgroundJob(QObject):
    """Runs ``_work`` once on its own thread, with the GUI first (module doc)."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """The window is closing: wait a little for the job and emit nothing more."""
        with self._lock:
            self._closed = True
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)

    def _run(self) -> None:
        with gui_first():
            self._work()

    def _work(self) -> None:
        raise NotImplementedError

    def _emit(self, signal: SignalInstance, *args: object) -> None:
        """Emit unless the window closed."""
        with self._lock:
            if not self._closed:
                signal.emit(*args)


def failure_reason(error: Exception, what: str) -> str:
    """Why ``what`` (e.g. "import of chat.json") failed, for a person; logged.

    A locked database or a full disk is a ``StorageError`` (a ``ServiceError``) that
    says so itself; anything else is a bug, logged with its traceback."""
    if isinstance(error, ServiceError | OSError):
        log.warning("%s failed: %s", what, error)
        return str(error)
    log.error("%s failed", what, exc_info=error)
    return "an unexpected error stopped it (see the log)."


class _GuiFirst:
    """Counts the jobs running: the first one in changes the settings, the last one out
    puts back what was there before (an import and an export may overlap)."""

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
"""No automatic GC and a short GIL switch interval while a job runs (module doc)."""
