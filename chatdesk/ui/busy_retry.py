"""A person's action that meets a busy database is tried again later, never waited on.

A GUI write waits at most ``FOREGROUND_BUSY_TIMEOUT_MS`` (100 ms) for another
connection's lock, then fails with a busy ``StorageError`` that rolled everything back.
``BusyRetry`` runs the action again from a timer, so the event loop keeps painting
between attempts, says "Waiting for the database…" meanwhile, and after the pauses of
``patience.BUSY_RETRY_DELAYS_S`` (about 5 s, the store's busy timeout) hands the last
error to the caller, who shows it. Other errors are handed over at once: a full disk
does not empty itself in 5 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject, QTimer

from chatdesk.services.errors import ServiceError, StorageError
from chatdesk.services.patience import BUSY_RETRY_DELAYS_S, is_busy

log = logging.getLogger(__name__)

RETRY_DELAYS_MS = tuple(round(delay * 1000) for delay in BUSY_RETRY_DELAYS_S)
WAITING_TEXT = "Waiting for the database…"


class BusyRetry(QObject):
    """Runs actions, retrying those that found the database busy (module doc).

    One action per ``key`` waits at a time: running a key again replaces the waiting
    one (a second click on Pin does not pin twice).
    """

    def __init__(
        self, parent: QObject | None = None, delays_ms: tuple[int, ...] = RETRY_DELAYS_MS
    ) -> None:
        super().__init__(parent)
        self._delays_ms = delays_ms
        self._waiting: dict[Hashable, QTimer] = {}

    def run(
        self,
        key: Hashable,
        action: Callable[[], object],
        on_failed: Callable[[ServiceError], None],
        on_waiting: Callable[[str], None] | None = None,
    ) -> None:
        """Do ``action`` now; when busy, again later; ``on_failed`` gets a final error.

        ``action`` must be safe to run again after a busy failure: nothing it wrote
        before the failing transaction may be written twice.
        """
        self.cancel(key)
        self._attempt(key, action, on_failed, on_waiting, 0)

    def is_waiting(self, key: Hashable) -> bool:
        return key in self._waiting

    def cancel(self, key: Hashable) -> None:
        timer = self._waiting.pop(key, None)
        if timer is not None:
            timer.stop()
            timer.deleteLater()

    def cancel_all(self) -> None:
        for key in list(self._waiting):
            self.cancel(key)

    def _attempt(
        self,
        key: Hashable,
        action: Callable[[], object],
        on_failed: Callable[[ServiceError], None],
        on_waiting: Callable[[str], None] | None,
        attempt: int,
    ) -> None:
        fired = self._waiting.pop(key, None)
        if fired is not None:
            fired.deleteLater()
        try:
            action()
        except StorageError as error:
            if not is_busy(error) or attempt >= len(self._delays_ms):
                on_failed(error)
                return
            log.info("database busy; trying %r again (attempt %d)", key, attempt + 2)
            if on_waiting is not None:
                on_waiting(WAITING_TEXT)
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(
                lambda: self._attempt(key, action, on_failed, on_waiting, attempt + 1)
            )
            self._waiting[key] = timer
            timer.start(self._delays_ms[attempt])
        except ServiceError as error:
            on_failed(error)
