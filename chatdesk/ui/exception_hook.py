"""The last catch: an unexpected exception is logged and shown once, never lost on stderr.

PySide6 hands an exception that escapes a slot to ``sys.excepthook`` and carries on;
one that ends a Python thread goes to ``threading.excepthook``, one in an asyncio task
or callback to the loop's exception handler. ``ExceptionReporter`` takes all three:
the traceback goes to the log (whose handlers redact secrets), the person sees a short
non-modal message (redacted too) saying the chats are safe and where the details are,
once per distinct error (a failing paint or timer would otherwise open a storm of
them), and the app keeps running. The composition root installs it, not an
import: pytest-qt has its own capture of slot exceptions in tests.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from chatdesk.redact import redact

log = logging.getLogger(__name__)

MAX_SHOWN = 20
"""After this many distinct errors no more messages open (each is still logged)."""
TITLE = "chatdesk ran into a problem"

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class ExceptionReporter(QObject):
    """Installs itself as the Python and thread exception hook (module doc).

    Signals:
        reported: a person-readable text about a new distinct error (str); emitted
            from any thread, shown on the GUI thread.
    """

    reported = Signal(str)

    def __init__(self, parent_window: QWidget | None, log_path: Path | None = None) -> None:
        super().__init__(parent_window)
        self._window = parent_window
        self._log_path = log_path
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook
        self.dialogs: list[QMessageBox] = []
        self.reported.connect(self.on_reported, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        sys.excepthook = self.on_exception
        threading.excepthook = self.on_thread_exception

    def uninstall(self) -> None:
        if sys.excepthook == self.on_exception:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self.on_thread_exception:
            threading.excepthook = self._previous_threading

    def on_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        self.on_exception(args.exc_type, args.exc_value, args.exc_traceback)

    def on_loop_exception(self, loop: object, context: dict[str, Any]) -> None:
        """asyncio's exception handler: a task or callback of the qasync loop failed."""
        error = context.get("exception")
        if isinstance(error, BaseException):
            self.on_exception(type(error), error, error.__traceback__)
        else:
            log.error("event loop: %s", context.get("message", context))

    def on_exception(
        self,
        exc_type: type[BaseException],
        error: BaseException,
        tb: TracebackType | None,
    ) -> None:
        """Log the exception; report it unless the same one was reported already."""
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_sys(exc_type, error, tb)
            return
        log.error("unexpected error", exc_info=(exc_type, error, tb))
        with self._lock:
            key = _identity((exc_type, error, tb))
            if key in self._seen or len(self._seen) >= MAX_SHOWN:
                return
            self._seen.add(key)
        self.reported.emit(self._explain(error))

    def _explain(self, error: BaseException) -> str:
        what = redact(f"{type(error).__name__}: {error}".strip())
        where = f" ({self._log_path})" if self._log_path else ""
        return (
            f"Something went wrong inside chatdesk: {what}\n\nYour chats are saved; you "
            f"can keep working. The details are in the log{where}."
        )

    def on_reported(self, text: str) -> None:
        """Show ``text`` without blocking: a modal loop inside a failing slot helps nobody."""
        dialog = QMessageBox(QMessageBox.Icon.Warning, TITLE, text, parent=self._window)
        dialog.setObjectName("unexpectedError")
        dialog.setTextFormat(Qt.TextFormat.PlainText)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.finished.connect(lambda _result: self.dialogs.remove(dialog))
        self.dialogs.append(dialog)
        dialog.open()


def _identity(info: _ExcInfo) -> tuple[str, str, str]:
    """What makes two errors "the same": type, message, and the line that raised it."""
    exc_type, error, tb = info
    frames = traceback.extract_tb(tb)
    place = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return exc_type.__qualname__, str(error)[:200], place
