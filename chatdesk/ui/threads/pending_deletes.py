"""Deleting a thread with Undo: the database delete waits until Undo is no longer offered.

A scheduled delete keeps the thread in the database for ``timeout_ms`` (6 s); the
window hides its row meanwhile. Undo cancels the most recent one; expiry, or the window
closing (``commit_all``), performs the real delete through the thread service. A
delete that finds the database busy stays pending (hidden, undoable) and is tried again
after each pause of ``BUSY_RETRY_DELAYS_S``; only then, or on any other failure, does
the thread come back with the reason.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from chatdesk.services import Services
from chatdesk.services.errors import NotFoundError, ServiceError
from chatdesk.services.patience import BUSY_RETRY_DELAYS_S, is_busy

log = logging.getLogger(__name__)

UNDO_TIMEOUT_MS = 6000


class PendingDeletes(QObject):
    """Thread deletions waiting out their Undo period.

    Signals:
        committed: a thread was deleted from the database (int thread id).
        restored: a pending delete was undone (int thread id).
        failed: the delete could not be done (int thread id, str reason).
    """

    committed = Signal(int)
    restored = Signal(int)
    failed = Signal(int, str)

    def __init__(
        self,
        services: Services,
        user_id: int,
        timeout_ms: int = UNDO_TIMEOUT_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._user_id = user_id
        self.timeout_ms = timeout_ms
        self._timers: dict[int, QTimer] = {}
        self._busy_tries: dict[int, int] = {}
        self._closing = False

    def pending(self) -> list[int]:
        """Thread ids waiting, oldest first."""
        return list(self._timers)

    def schedule(self, thread_id: int) -> None:
        if thread_id in self._timers:
            return
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(self.timeout_ms)
        timer.timeout.connect(lambda: self.commit(thread_id))
        self._timers[thread_id] = timer
        timer.start()

    def undo_last(self) -> int | None:
        """Cancel the newest pending delete; returns its thread id."""
        if not self._timers:
            return None
        thread_id = next(reversed(self._timers))
        self._drop_timer(thread_id)
        self.restored.emit(thread_id)
        return thread_id

    def commit(self, thread_id: int) -> None:
        if thread_id not in self._timers:
            return
        try:
            self._services.threads.delete(self._user_id, thread_id)
        except NotFoundError:
            pass  # already gone: nothing to do
        except ServiceError as error:
            if is_busy(error) and self._try_again_later(thread_id):
                return
            self._drop_timer(thread_id)
            log.warning("could not delete thread %s: %s", thread_id, error)
            self.failed.emit(thread_id, str(error))
            return
        self._drop_timer(thread_id)
        self.committed.emit(thread_id)

    def _try_again_later(self, thread_id: int) -> bool:
        tries = self._busy_tries.get(thread_id, 0)
        if self._closing or tries >= len(BUSY_RETRY_DELAYS_S):
            return False
        self._busy_tries[thread_id] = tries + 1
        self._timers[thread_id].start(round(BUSY_RETRY_DELAYS_S[tries] * 1000))
        return True

    def commit_all(self) -> None:
        """Delete everything still waiting (the window is closing): one try each."""
        self._closing = True
        for thread_id in list(self._timers):
            self.commit(thread_id)

    def _drop_timer(self, thread_id: int) -> None:
        timer = self._timers.pop(thread_id)
        self._busy_tries.pop(thread_id, None)
        timer.stop()
        timer.deleteLater()
