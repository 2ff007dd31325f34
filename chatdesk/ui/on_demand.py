"""Things the window draws but cannot make on the GUI thread, made on demand.

A bubble's picture or a formula's image is asked for while painting, dozens a second
on a fast scroll. A task (thread) each cost the GUI thread a thread start per ask and
set dozens of workers against it for the GIL and the two cores. ``OnDemand`` makes
them with one task, one at a time, the newest ask first (what is on the screen now),
and forgets asks that scrolled away (``pending_max``); each result comes back on the
GUI thread as ``made``. The task ends when there is nothing to make and starts again
on the next ask, so an idle window keeps no thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject, Signal

from chatdesk.ui.tasks import Task, TaskControl, Tasks

log = logging.getLogger(__name__)

IDLE_S = 2.0
"""How long the task waits for another ask before it ends."""
POLL_S = 0.05
"""How often a waiting task looks whether it was stopped (the window closing)."""

Make = Callable[[], object]


class _Asks:
    """What is wanted, newest last; shared by the GUI thread and the task."""

    def __init__(self, pending_max: int) -> None:
        self._lock = threading.Condition()
        self._stack: list[tuple[Hashable, Make]] = []
        self._max = pending_max

    def push(self, key: Hashable, make: Make) -> list[Hashable]:
        """Add an ask; the keys of the asks dropped to make room."""
        with self._lock:
            self._stack.append((key, make))
            dropped = self._stack[: -self._max]
            del self._stack[: -self._max]
            self._lock.notify()
        return [key for key, _make in dropped]

    def pop(self, wait_s: float) -> tuple[Hashable, Make] | None:
        """The newest ask, waiting up to ``wait_s`` for one; None when none came."""
        with self._lock:
            if not self._stack:
                self._lock.wait(wait_s)
            return self._stack.pop() if self._stack else None

    def pending(self) -> bool:
        with self._lock:
            return bool(self._stack)


class OnDemand(QObject):
    """Makes what is asked for off the GUI thread, one task, the newest ask first.

    Signals:
        made: an ask's result (its key, the value; None when ``make`` failed, logged).
    """

    made = Signal(object, object)

    def __init__(
        self, tasks: Tasks, name: str, pending_max: int, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._name = name
        self._asks = _Asks(pending_max)
        self._task: Task | None = None

    def ask(self, key: Hashable, make: Make) -> list[Hashable]:
        """Have ``make()`` run on the task; the keys of older asks dropped for it (not
        made: ask again when they are wanted again)."""
        dropped = self._asks.push(key, make)
        if self._task is None:
            self._start()
        return dropped

    def _start(self) -> None:
        asks, name = self._asks, self._name

        def work(control: TaskControl) -> None:
            idle = 0.0
            while not control.stopping():
                ask = asks.pop(POLL_S)
                if ask is None:
                    idle += POLL_S
                    if idle >= IDLE_S:
                        return
                    continue
                idle = 0.0
                key, make = ask
                try:
                    value = make()
                except Exception as error:  # one bad file or formula must not end the rest
                    log.warning("%s: %s failed: %s", name, key, error)
                    value = None
                control.progress((key, value))

        task = self._task = self._tasks.start(name, work)
        task.progressed.connect(self._on_progressed)
        task.ended.connect(self._on_ended)

    def _on_progressed(self, result: tuple[Hashable, object]) -> None:
        self.made.emit(*result)

    def _on_ended(self) -> None:
        self._task = None
        if self._asks.pending():
            self._start()  # an ask came in as the task was ending
