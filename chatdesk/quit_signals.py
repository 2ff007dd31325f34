"""Quit cleanly on SIGTERM and SIGINT (logout, ``kill``, Ctrl+C in a terminal).

Why not a plain ``signal.signal`` handler: Python runs signal handlers only between
bytecodes, and while Qt's C++ event loop waits for events no bytecode runs, so a
signal would be noticed at the next mouse move, maybe never. ``signal.set_wakeup_fd``
makes the C-level handler write a byte to a socket; a ``QSocketNotifier`` on the other
end wakes the loop, the Python handler runs, and it asks the application to quit the
normal way: ``aboutToQuit`` fires and ``ChatdeskApp.close`` keeps every reply's text
(runs end cancelled), stops the worker and closes the database.

A second signal while quitting ends the process at once: the database stays
consistent (SQLite), and the next start marks what was still running interrupted.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Sequence
from types import FrameType
from typing import Any, Protocol

from PySide6.QtCore import QObject, QSocketNotifier

log = logging.getLogger(__name__)

QUIT_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)


class Quittable(Protocol):
    """What a signal quits: the application, or (before it runs) the upgrade window."""

    def quit(self) -> None: ...


class QuitOnSignals(QObject):
    """While installed, the signals in ``signals`` quit ``app`` gracefully.

    Attributes:
        received: the signals received so far, in order.
    """

    def __init__(
        self,
        app: Quittable,
        signals: Sequence[signal.Signals] = QUIT_SIGNALS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._app = app
        self.received: list[int] = []
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous_handlers: dict[signal.Signals, Any] = {
            sig: signal.signal(sig, self._on_signal) for sig in signals
        }
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            log.warning("%s again while quitting: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s received: quitting", signal.Signals(signum).name)
        self._app.quit()

    def _drain(self) -> None:
        """Empty the wake-up socket (the Python handler has run by the time we are here)."""
        try:
            while self._reader.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def uninstall(self) -> None:
        """Put back the handlers and wake-up fd found at install (idempotent)."""
        if not self._previous_handlers:
            return
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers = {}
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()
