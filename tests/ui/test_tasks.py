"""The one background-task runner (chatdesk.ui.tasks): result, error, progress, cancel,
and the window closing (the app quitting) while a task runs."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QObject
from pytestqt.qtbot import QtBot

from chatdesk.ui.tasks import Cancelled, LatestCall, Task, TaskControl, Tasks

GUI_THREAD = threading.get_ident()


class Heard:
    """Every signal a task emitted, with the thread it was heard on."""

    def __init__(self, task: Task) -> None:
        self.events: list[tuple[str, Any]] = []
        self.threads: set[int] = set()
        for name in ("progressed", "succeeded", "failed"):
            getattr(task, name).connect(lambda value, name=name: self._note(name, value))
        task.cancelled.connect(lambda: self._note("cancelled", None))
        task.ended.connect(lambda: self._note("ended", None))

    def _note(self, name: str, value: Any) -> None:
        self.events.append((name, value))
        self.threads.add(threading.get_ident())

    def names(self) -> list[str]:
        return [name for name, _value in self.events]


@pytest.fixture
def tasks() -> Any:
    owner = Tasks()
    yield owner
    owner.close()


def _settle(qtbot: QtBot, ms: int = 100) -> None:
    qtbot.wait(ms)
    QCoreApplication.processEvents()


def test_a_result_comes_back_on_the_gui_thread(qtbot: QtBot, tasks: Tasks) -> None:
    ran_on: list[int] = []

    def work(_control: TaskControl) -> int:
        ran_on.append(threading.get_ident())
        return 42

    task = tasks.start("test-result", work)
    heard = Heard(task)
    with qtbot.waitSignal(task.ended, timeout=5000):
        pass
    assert heard.events == [("succeeded", 42), ("ended", None)]
    assert heard.threads == {GUI_THREAD} and ran_on != [GUI_THREAD]
    assert task.result == 42 and task.error is None and not task.is_running()
    assert tasks.running() == []


def test_an_error_comes_back_as_the_exception(qtbot: QtBot, tasks: Tasks) -> None:
    def work(_control: TaskControl) -> None:
        raise ValueError("no such server")

    task = tasks.start("test-error", work)
    heard = Heard(task)
    with qtbot.waitSignal(task.ended, timeout=5000):
        pass
    assert heard.names() == ["failed", "ended"]
    error = heard.events[0][1]
    assert isinstance(error, ValueError) and str(error) == "no such server"
    assert task.error is error


def test_progress_arrives_in_order_before_the_result(qtbot: QtBot, tasks: Tasks) -> None:
    def work(control: TaskControl) -> str:
        for step in range(5):
            control.progress(step)
        return "done"

    task = tasks.start("test-progress", work)
    heard = Heard(task)
    with qtbot.waitSignal(task.ended, timeout=5000):
        pass
    assert heard.events == [
        *(("progressed", step) for step in range(5)),
        ("succeeded", "done"),
        ("ended", None),
    ]


def test_cancel_stops_work_that_checks_and_says_so(qtbot: QtBot, tasks: Tasks) -> None:
    started = threading.Event()

    def work(control: TaskControl) -> None:
        started.set()
        while True:
            control.check()  # raises Cancelled once asked to stop
            time.sleep(0.01)

    task = tasks.start("test-cancel", work)
    heard = Heard(task)
    assert started.wait(5)
    assert task.is_running() and not task.cancelling
    with qtbot.waitSignal(task.ended, timeout=5000):
        task.cancel()
    assert task.cancelling
    assert heard.names() == ["cancelled", "ended"]


def test_work_that_finishes_despite_a_cancel_says_it_succeeded(qtbot: QtBot, tasks: Tasks) -> None:
    """What happened is told: an import that got in before it saw Cancel is in."""
    go = threading.Event()

    def work(control: TaskControl) -> str:
        go.wait(5)
        return "kept" if control.stopping() else "not asked"

    task = tasks.start("test-late-cancel", work)
    heard = Heard(task)
    task.cancel()
    with qtbot.waitSignal(task.ended, timeout=5000):
        go.set()
    assert heard.events == [("succeeded", "kept"), ("ended", None)]


def test_closing_the_owner_stops_running_tasks_and_delivers_nothing(qtbot: QtBot) -> None:
    """The app quitting: each task is asked to stop and waited for (a while); what it
    still sends is dropped, and its thread is gone when close returns."""
    owner = Tasks()
    cleaned = threading.Event()
    started = threading.Event()

    def work(control: TaskControl) -> None:
        started.set()
        while not control.stopping():
            control.progress("working")
            time.sleep(0.01)
        time.sleep(0.1)  # cleans up (an import deletes what it wrote)
        cleaned.set()
        raise Cancelled

    task = owner.start("test-quit", work)
    heard = Heard(task)
    assert started.wait(5)
    owner.close(wait_s=5)
    assert cleaned.is_set() and task.wait(0) and not task.is_running()
    heard.events.clear()
    _settle(qtbot)
    assert heard.events == []  # not even the progress posted before the close
    assert owner.running() == []


def test_closing_does_not_wait_forever_for_work_that_never_looks(qtbot: QtBot) -> None:
    owner = Tasks()
    release = threading.Event()
    task = owner.start("test-stuck", lambda _control: release.wait(30))
    heard = Heard(task)
    began = time.monotonic()
    owner.close(wait_s=0.2)
    assert time.monotonic() - began < 2
    assert not task.is_running()
    release.set()
    assert task.wait(5)
    _settle(qtbot)
    assert heard.events == []  # its late answer is dropped
    assert task.name == "test-stuck"
    threads = [t for t in threading.enumerate() if t.name == "test-stuck"]
    assert threads == []


def test_an_owner_deleted_with_its_parent_closes_its_tasks(qtbot: QtBot) -> None:
    parent = QObject()
    owner = Tasks(parent)
    release = threading.Event()
    task = owner.start("test-orphan", lambda _control: release.wait(5) and "late")
    heard = Heard(task)
    parent.deleteLater()
    _settle(qtbot)
    release.set()
    assert task.wait(5)
    _settle(qtbot)
    assert heard.events == [] and not task.is_running()


def test_latest_call_answers_only_the_newest(qtbot: QtBot, tasks: Tasks) -> None:
    call = LatestCall("test-latest", tasks)
    answers: list[object] = []
    call.succeeded.connect(answers.append)
    slow = threading.Event()
    call.call(lambda: slow.wait(5) and "old")
    assert call.is_running()
    call.call(lambda: "new")
    qtbot.waitUntil(lambda: answers == ["new"], timeout=5000)
    slow.set()
    _settle(qtbot, 200)
    assert answers == ["new"] and not call.is_running()
    call.call(lambda: "dropped")
    call.cancel()
    _settle(qtbot, 200)
    assert answers == ["new"] and not call.is_running()
