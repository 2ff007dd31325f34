"""One blocking call at a time on a daemon thread, its answer delivered on the GUI thread.

For short network questions (which models does this server have?) that must never hold
up the window. The thread touches no Qt object: it fills a ``Future`` that a GUI-thread
timer picks up, so closing the window while a call is out is harmless (the answer is
dropped). A newer call supersedes an older one still out: only the newest is answered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

POLL_MS = 40


class ThreadCall(QObject):
    """Runs ``call(fn)`` off the GUI thread.

    Signals:
        succeeded: the newest call returned (its value).
        failed: the newest call raised (the exception).
    """

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._future: Future[Any] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.on_poll)

    def is_running(self) -> bool:
        return self._future is not None

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on a new daemon thread; an answer still due for an older call is dropped."""
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as error:  # delivered to the GUI, never lost on a thread
                future.set_exception(error)

        self._future = future
        threading.Thread(target=run, name=self._name, daemon=True).start()
        self._timer.start()

    def cancel(self) -> None:
        """Forget the call that is out (its thread ends on its own)."""
        self._future = None
        self._timer.stop()

    def on_poll(self) -> None:
        future = self._future
        if future is None or not future.done():
            return
        self._timer.stop()
        self._future = None
        error = future.exception()
        if error is not None:
            self.failed.emit(error)
        else:
            self.succeeded.emit(future.result())
