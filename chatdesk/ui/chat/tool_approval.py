"""The question a crew's tool call asks before it runs: Allow once, for this chat, or Deny.

Why a panel above the composer and not a dialog: the reply keeps streaming in view, the
person can read the conversation before answering, and nothing pops over what they
are typing. It never takes the keyboard focus (a keystroke meant for the composer must
not answer it); its buttons are in the tab order and answer to Alt+A, Alt+C and Alt+D.
What it shows (server, tool, arguments) is the model's and the server's text: shown as
plain text, never as rich text.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.runs.coordinator import PendingApproval
from chatdesk.vocabulary import ApprovalDecision

MAX_ARGUMENT_CHARS = 20_000
ARGUMENT_LINES = 6


def pretty_arguments(arguments: object) -> str:
    """The call's arguments as indented JSON, cut to what a person reads."""
    try:
        text = json.dumps(arguments, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(arguments)
    if len(text) > MAX_ARGUMENT_CHARS:
        text = (
            text[:MAX_ARGUMENT_CHARS] + f"\n… ({len(text) - MAX_ARGUMENT_CHARS:,} more characters)"
        )
    return text


class ToolApprovalPanel(QFrame):
    """Shows the open chat's waiting tool call; emits the person's answer.

    Signals:
        answered(int, str, str): execution id, call id, decision (an ApprovalDecision).
    """

    answered = Signal(int, str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolApproval")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._pending: PendingApproval | None = None

        self.title = QLabel(self)
        self.title.setObjectName("toolApprovalTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.explain = QLabel(
            "The crew wants to run this tool with these arguments. It waits for you.", self
        )
        self.explain.setProperty("muted", True)
        self.explain.setWordWrap(True)
        self.arguments = QPlainTextEdit(self)
        self.arguments.setObjectName("toolApprovalArguments")
        self.arguments.setReadOnly(True)
        self.arguments.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.arguments.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.arguments.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        line = self.arguments.fontMetrics().lineSpacing()
        self.arguments.setMaximumHeight(line * ARGUMENT_LINES + 14)

        self.allow_once = QPushButton("&Allow once", self)
        self.allow_once.setObjectName("toolAllowOnce")
        self.allow_chat = QPushButton("Allow for this &chat", self)
        self.allow_chat.setObjectName("toolAllowChat")
        self.deny = QPushButton("&Deny", self)
        self.deny.setObjectName("toolDeny")
        for button, decision in (
            (self.allow_once, ApprovalDecision.ONCE),
            (self.allow_chat, ApprovalDecision.CHAT),
            (self.deny, ApprovalDecision.DENY),
        ):
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            button.clicked.connect(lambda _=False, d=decision: self._answer(d))
        self.allow_chat.setToolTip("Run this tool without asking again in this chat")
        self.deny.setToolTip("The crew is told you refused, and goes on without it")

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.allow_once)
        buttons.addWidget(self.allow_chat)
        buttons.addStretch(1)
        buttons.addWidget(self.deny)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.explain)
        layout.addWidget(self.arguments)
        layout.addLayout(buttons)
        self.hide()

    @property
    def pending(self) -> PendingApproval | None:
        return self._pending

    def show_request(self, pending: PendingApproval | None) -> None:
        """Show this call's question, or hide the panel when none waits."""
        if pending == self._pending:
            return
        self._pending = pending
        if pending is None:
            self.hide()
            return
        self.title.setText(f"Run {pending.tool} from {pending.server}?")
        self.arguments.setPlainText(pretty_arguments(pending.arguments))
        self.setAccessibleName(f"Tool approval: {pending.server} / {pending.tool}")
        self.show()

    def _answer(self, decision: ApprovalDecision) -> None:
        pending = self._pending
        if pending is None:
            return
        self.show_request(None)
        self.answered.emit(pending.execution_id, pending.call_id, decision.value)
