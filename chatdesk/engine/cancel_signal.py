"""A run's cancel flag that can also act at the moment it is raised.

Why: most of a run polls its flag (the scripted model's pauses, the stream's next
chunk, the hook before each model call), but a thread blocked in a socket read checks
nothing until data or its timeout comes. Whoever cancels must then close that socket
itself, so the flag runs callbacks on the cancelling thread when it is set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class CancelSignal(threading.Event):
    """A :class:`threading.Event` that also calls its ``on_set`` callbacks when set."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []
        self._callbacks_lock = threading.Lock()

    def on_set(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when the signal is set (at once if it already is)."""
        with self._callbacks_lock:
            fired = self.is_set()
            if not fired:
                self._callbacks.append(callback)
        if fired:
            _call(callback)

    def set(self) -> None:
        """Raise the flag, then run every callback once, here on the setting thread."""
        with self._callbacks_lock:
            if self.is_set():
                return
            super().set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _call(callback)


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # one failing callback must not keep the others from stopping
        log.exception("a cancel callback failed")
