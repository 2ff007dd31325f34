"""The one way the window runs work off the GUI thread.

A ``Task`` runs a callable on a daemon thread of its own and hands its progress, its
result, its error or its cancellation back to the GUI thread as Qt signals. Searching
messages, looking for local model servers, listing a server's models, upgrading the
database and importing or exporting a chat all run this way (they used to have a thread
idiom each: a thread with a lock, a polled Future, a worker with a condition variable, a
QThread).

Why it is safe to close or delete anything while a task runs: the task's thread never
touches a Qt object. It posts each outcome to one long-lived object on the GUI thread
(``gui_thread_calls``), and there the task emits it only if the task still exists and
was not closed. ``Tasks`` keeps a window's running tasks so that closing the window (the
app quitting) closes them: each is asked to stop, those that clean up after themselves
(an import deletes what it wrote) get a few seconds, and nothing more is delivered. A
thread stuck in a network call is a daemon: it never keeps the process alive.

While a task started with ``gui_first`` runs (the import and the export), two
process-wide settings change so the GUI thread gets the GIL when it needs it (measured
on a 100,000-message import):

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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal

from chatdesk.services.errors import ServiceError

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0
"""How long closing the window waits, in all, for its tasks to finish or clean up."""
SWITCH_INTERVAL_S = 0.0005


class Cancelled(Exception):
    """Raised by a task's work that stopped because it was asked to (``TaskControl``)."""


class GuiThreadCalls(QObject):
    """Runs calls posted from any thread on the thread this object was made on."""

    _posted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._posted.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def _run(self, call: Callable[[], None]) -> None:
        call()

    def post(self, call: Callable[[], None]) -> None:
        self._posted.emit(call)


_gui_calls: list[GuiThreadCalls] = []


def gui_thread_calls() -> GuiThreadCalls:
    """The process's poster to the GUI thread (made on first use, from that thread)."""
    if not _gui_calls:
        _gui_calls.append(GuiThreadCalls())
    return _gui_calls[0]


class TaskControl:
    """What a task's work sees of its task, from its own thread."""

    def __init__(self, stop: threading.Event, report: Callable[[object], None]) -> None:
        self._stop = stop
        self._report = report

    def stopping(self) -> bool:
        """The task was asked to stop (``Task.cancel`` or ``close``)."""
        return self._stop.is_set()

    def check(self) -> None:
        """Raise ``Cancelled`` if the task was asked to stop."""
        if self._stop.is_set():
            raise Cancelled

    def progress(self, value: object) -> None:
        """Report how far the work got: ``Task.progressed`` on the GUI thread."""
        self._report(value)


Work = Callable[[TaskControl], Any]


class Task(QObject):
    """One callable run off the GUI thread (``start``); see the module doc.

    After ``start``, exactly one of ``succeeded``, ``failed`` or ``cancelled`` is
    emitted, then ``ended`` (nothing at all once the task is closed). Connect to them
    before returning to the event loop.

    Signals:
        progressed(object): what the work reported through ``TaskControl.progress``.
        succeeded(object): what the work returned.
        failed(object): the exception the work raised (logged by whoever reads it).
        cancelled(): the work stopped as asked (it raised ``Cancelled``).
        ended(): after any of the three.

    Attributes:
        name: the thread's name.
        control: what the work gets (its ``progress`` may be handed to other code).
        result, error: the outcome, once delivered.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, name: str, work: Work, *, gui_first: bool = False) -> None:
        super().__init__()
        self.name = name
        self._work = work
        self._gui_first = gui_first
        self._stop = threading.Event()
        self._calls = gui_thread_calls()
        self.control = TaskControl(self._stop, self._post_progress)
        self._thread: threading.Thread | None = None
        self._open = True  # outcomes are still wanted
        self._due = False  # started, and its outcome not delivered yet
        self._forget: Callable[[Task], None] = lambda _task: None  # its registry's
        self.result: Any = None
        self.error: BaseException | None = None

    def start(self) -> Task:
        self._due = True
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def is_running(self) -> bool:
        """Started, not closed, and its outcome not delivered yet."""
        return self._due and self._open

    @property
    def cancelling(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        """Ask the work to stop; its outcome is still told (``cancelled`` if it did)."""
        self._stop.set()

    def close(self, wait_s: float = 0.0) -> None:
        """Ask the work to stop, wait up to ``wait_s`` for it, and deliver nothing more."""
        self._open = False
        self._stop.set()
        self.wait(wait_s)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the work's thread to end; True if it has."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout_s)
        return thread is None or not thread.is_alive()

    # -- the task's thread -----------------------------------------------------------

    def _run(self) -> None:
        with gui_first() if self._gui_first else nullcontext():
            try:
                outcome: tuple[Any, ...] = ("succeeded", self._work(self.control))
            except Cancelled:
                outcome = ("cancelled",)
            except BaseException as error:  # delivered to the GUI thread, never lost here
                outcome = ("failed", error)
        self._calls.post(partial(_deliver, self, *outcome))

    def _post_progress(self, value: object) -> None:
        self._calls.post(partial(_deliver, self, "progressed", value))


def _deliver(task: Task, kind: str, *args: Any) -> None:
    """On the GUI thread: emit one outcome of ``task``, unless it is gone or closed."""
    if not shiboken6.isValid(task) or not task._open or not task._due:
        return
    if kind == "progressed":
        task.progressed.emit(*args)
        return
    task._due = False
    task._forget(task)
    if kind == "succeeded":
        task.result = args[0]
        task.succeeded.emit(*args)
    elif kind == "failed":
        task.error = args[0]
        task.failed.emit(*args)
    else:
        task.cancelled.emit()
    task.ended.emit()


class Tasks(QObject):
    """The running tasks of one owner (the window); closing it closes them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        running: set[Task] = set()
        self._running = running
        self.destroyed.connect(lambda *_: _close_all(running, 0.0))

    def start(self, name: str, work: Work, *, gui_first: bool = False) -> Task:
        """Run ``work(control)`` on a thread of its own; its outcome comes as signals."""
        task = Task(name, work, gui_first=gui_first)
        self._running.add(task)
        task._forget = self._running.discard
        return task.start()

    def running(self) -> list[Task]:
        return [task for task in self._running if task.is_running()]

    def close(self, wait_s: float = JOIN_TIMEOUT_S) -> None:
        """Close every running task, waiting up to ``wait_s`` in all for them to end."""
        _close_all(self._running, wait_s)


def _close_all(running: set[Task], wait_s: float) -> None:
    tasks = list(running)
    running.clear()
    for task in tasks:
        task.cancel()  # all of them stop at once, then each is waited for in turn
    deadline = time.monotonic() + wait_s
    for task in tasks:
        task.close(max(0.0, deadline - time.monotonic()))


class LatestCall(QObject):
    """One question at a time whose newest answer counts (a server's model list).

    A call still out when a newer one is made (or ``cancel`` is called) is closed:
    its answer is dropped.

    Signals:
        succeeded: the newest call returned (its value).
        failed: the newest call raised (the exception).
    """

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, name: str, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._tasks = tasks
        self._task: Task | None = None

    def is_running(self) -> bool:
        return self._task is not None and self._task.is_running()

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` off the GUI thread; an answer still due for an older call is dropped."""
        self.cancel()
        task = self._tasks.start(self._name, lambda _control: fn())
        task.succeeded.connect(self.succeeded)
        task.failed.connect(self.failed)
        task.ended.connect(self._on_ended)
        self._task = task

    def cancel(self) -> None:
        """Forget the call that is out (its thread ends on its own)."""
        task, self._task = self._task, None
        if task is not None:
            task.close()

    def _on_ended(self) -> None:
        self._task = None


def failure_reason(error: BaseException, what: str) -> str:
    """Why ``what`` (e.g. "import of chat.json") failed, for a person; logged.

    A locked database or a full disk is a ``StorageError`` (a ``ServiceError``) that
    says so itself; anything else is a bug, logged with its traceback."""
    if isinstance(error, ServiceError | OSError):
        log.warning("%s failed: %s", what, error)
        return str(error)
    log.error("%s failed", what, exc_info=error)
    return "an unexpected error stopped it (see the log)."


class _GuiFirst:
    """Counts the tasks running ``gui_first``: the first one in changes the settings, the
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
"""No automatic GC and a short GIL switch interval while a task runs (module doc)."""
