"""Looks for model servers on this computer without ever blocking the window.

The probe (:func:`chatdesk.runs.providers.probe_local_servers`, about 300 ms at
worst) runs as a :class:`~chatdesk.ui.tasks.Task`: off the GUI thread, its answer
delivered on it, dropped if the window closed meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from chatdesk.runs.providers import (
    DEFAULT_TARGETS,
    LocalServer,
    ProbeTarget,
    probe_local_servers,
)
from chatdesk.ui.tasks import LatestCall, Tasks

log = logging.getLogger(__name__)

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

    def __init__(self, parent: QObject | None = None, *, tasks: Tasks | None = None) -> None:
        super().__init__(parent)
        self._servers: list[LocalServer] | None = None
        self._call = LatestCall("chatdesk-probe", tasks or Tasks(self), self)
        self._call.succeeded.connect(self.on_found)
        self._call.failed.connect(self.on_failed)

    @property
    def servers(self) -> list[LocalServer] | None:
        """What the last probe found (None before the first one has finished)."""
        return self._servers

    def is_running(self) -> bool:
        return self._call.is_running()

    def start(self, targets: Sequence[ProbeTarget] | None = None) -> None:
        """Probe in the background (a probe already under way is not doubled)."""
        if self._call.is_running():
            return
        chosen = tuple(PROBE_TARGETS if targets is None else targets)
        self._call.call(lambda: probe_local_servers(chosen))
        self.started.emit()

    def on_found(self, servers: list[LocalServer]) -> None:
        self._servers = servers
        self.finished.emit(servers)

    def on_failed(self, error: BaseException) -> None:
        log.warning("looking for local model servers failed: %s", error)  # never fatal
        self.on_found([])
