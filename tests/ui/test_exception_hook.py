"""An unexpected exception is logged, shown once (redacted) and the app goes on.

pytest-qt's own capture of slot exceptions is off here: the reporter is what is tested.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from chatdesk.ui.exception_hook import ExceptionReporter

SECRET = "sk-proj-" + "Zq7" * 12


@pytest.fixture
def reporter(qtbot: QtBot) -> Iterator[ExceptionReporter]:
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    installed = ExceptionReporter(window)
    installed.install()
    yield installed
    installed.uninstall()
    for dialog in list(installed.dialogs):
        dialog.close()


def _fail_in_a_slot(message: str) -> None:
    def slot() -> None:
        raise RuntimeError(message)

    QTimer.singleShot(0, slot)


@pytest.mark.qt_no_exception_capture
def test_a_slot_exception_is_logged_and_shown_once_redacted(
    qtbot: QtBot, reporter: ExceptionReporter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="chatdesk.ui.exception_hook")
    for _ in range(5):  # the same failure again and again: one message, not a storm
        _fail_in_a_slot(f"kaput with {SECRET}")
    qtbot.waitUntil(lambda: len(caplog.records) == 5, timeout=10_000)
    qtbot.wait(100)
    assert len(reporter.dialogs) == 1
    shown = reporter.dialogs[0].text()
    assert "RuntimeError: kaput" in shown and "Your chats are saved" in shown
    assert SECRET not in shown
    assert all(record.exc_info is not None for record in caplog.records)

    _fail_in_a_slot("something else")  # a different error is told too
    qtbot.waitUntil(lambda: len(reporter.dialogs) == 2, timeout=10_000)
    assert "something else" in reporter.dialogs[1].text()


@pytest.mark.qt_no_exception_capture
def test_a_thread_exception_is_shown_on_the_gui_thread(
    qtbot: QtBot, reporter: ExceptionReporter
) -> None:
    def work() -> None:
        raise ValueError("a worker broke")

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(10)
    qtbot.waitUntil(lambda: len(reporter.dialogs) == 1, timeout=10_000)
    assert "ValueError: a worker broke" in reporter.dialogs[0].text()


def test_uninstall_puts_the_previous_hooks_back(qtbot: QtBot) -> None:
    before = (sys.excepthook, threading.excepthook)
    installed = ExceptionReporter(None)
    installed.install()
    assert sys.excepthook == installed.on_exception
    installed.uninstall()
    assert (sys.excepthook, threading.excepthook) == before
