"""The one way the window's parts tell the person something in passing.

Why a bridge rather than the toast itself: the chat actions, the header and the window
each had to reach the window's private ``_notify``; now they are handed a ``Notices``
and say what kind of thing they tell (news, a failure, a wait), and the window decides
how it shows (today all three in the toast at the foot of the chat).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from PySide6.QtCore import QObject, Signal

from chatdesk.ui.toast import Toast

log = logging.getLogger(__name__)


class NoticeKind(StrEnum):
    """What a notice tells."""

    INFO = "info"
    ERROR = "error"
    WAITING = "waiting"


class Notices(QObject):
    """Shows short notices in ``toast``.

    Signals:
        shown: a notice was shown (str text, NoticeKind), for tests and logs.
    """

    shown = Signal(str, object)

    def __init__(self, toast: Toast, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._toast = toast

    def info(self, text: str) -> None:
        """Something done or found: "Reply copied", "Exported to chat.md"."""
        self._show(text, NoticeKind.INFO)

    def error(self, text: str) -> None:
        """Something that failed, with why (the text says what was kept)."""
        log.info("told the person: %s", text)
        self._show(text, NoticeKind.ERROR)

    def waiting(self, text: str) -> None:
        """A wait under way, such as a busy database being tried again."""
        self._show(text, NoticeKind.WAITING)

    def _show(self, text: str, kind: NoticeKind) -> None:
        self._toast.show_message(text)
        self.shown.emit(text, kind)
