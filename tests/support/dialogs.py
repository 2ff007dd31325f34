"""Answer chatdesk's start-up dialogs (``chatdesk.ui.setup.startup_dialogs``) from a test.

The dialogs are real modal boxes run with ``exec()``; a timer on the same event loop
finds each one as it opens, keeps its text and clicks the button named for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox

POLL_MS = 20


@contextmanager
def answering_dialogs(*buttons: str) -> Iterator[list[str]]:
    """Click ``buttons`` (objectNames) in the dialogs that open, in order.

    Yields the texts of the dialogs seen, each as "<objectName>: <text>".
    """
    seen: list[str] = []
    answers = list(buttons)

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            return
        if seen and seen[-1].endswith(box.text()) and box.property("answered"):
            return
        box.setProperty("answered", True)
        seen.append(f"{box.objectName()}: {box.text()}")
        if not answers:
            raise AssertionError(f"an unexpected dialog: {seen[-1]}")
        button = box.findChild(QAbstractButton, answers.pop(0))
        assert button is not None, f"no button to click in {seen[-1]}"
        QTimer.singleShot(0, button.click)

    timer = QTimer()
    timer.setInterval(POLL_MS)
    timer.timeout.connect(poll)
    timer.start()
    try:
        yield seen
    finally:
        timer.stop()
    assert not answers, f"dialogs never asked for {answers}; saw {seen}"
