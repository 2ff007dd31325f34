"""Looks for model servers on this computer without ever blocking the window.

The probe (:func:`chatdesk.runs.providers.probe_local_servers`, about 300 ms at
worst) runs in a daemon thread that hands its answer over in a ``Future``; a timer
on the GUI thread picks it up. No Qt object is touched from the thread, so closing
the window while a probe is under way is harmless: the answer is simply dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from PySide6.QtCore import QObject, QTimer, Signal

from chatdesk.runs.providers import (
    DEFAULT_TARGETS,
    LocalServer,
    ProbeTarget,
    probe_local_servers,
)

log = logging.getLogger(__name__)

POLL_MS = 40
# Where to look; tests point this at a server of their own.
PROBE_TARGETS: Sequence[ProbeTarget] = DEFAULT_TARGETS


class LocalServerProbe(QObject):
    """Runs probes on request and remembers the last answer.

    Signals:
        started: a probe began.
        finished: it ended (list of ``LocalServer``, possibly empty).
    """

    started = Signal()
    finished = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._future: Future[list[LocalServer]] | None = None
        self._servers: list[LocalServer] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.on_poll)

    @property
    def servers(self) -> list[LocalServer] | None:
        """What the last probe found (None before the first one has finished)."""
        return self._servers

    def is_running(self) -> bool:
        return self._future is not None

    def start(self, targets: Sequence[ProbeTarget] | None = None) -> None:
        """Probe in the background (a probe already under way is not doubled)."""
        if self._future is not None:
            return
        future: Future[list[LocalServer]] = Future()
        chosen = tuple(PROBE_TARGETS if targets is None else targets)

        def run() -> None:
            try:
                future.set_result(probe_local_servers(chosen))
            except Exception as error:  # a probe must never take the app down
                future.set_exception(error)

        self._future = future
        threading.Thread(target=run, name="chatdesk-probe", daemon=True).start()
        self._timer.start()
        self.started.emit()

    def on_poll(self) -> None:
        future = self._future
        if future is None or not future.done():
            return
        self._timer.stop()
        self._future = None
        error = future.exception()
        if error is not None:
            log.warning("looking for local model servers failed: %s", error)
            servers: list[LocalServer] = []
        else:
            servers = future.result()
        self._servers = servers
        self.finished.emit(servers)
