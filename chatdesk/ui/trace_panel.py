"""The "Run details" dock (objectName ``executionLog``): what ran for the selected message.

For now it shows the selected message and its execution's fields (status, crew, model,
times, tokens, error), read once from the execution service and then kept current from
the change bus. The step-by-step log rows are to be added here by the execution work.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFormLayout, QLabel, QVBoxLayout, QWidget

from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.events import Change
from chatdesk.services.records import ExecutionRecord, MessageRecord
from chatdesk.ui.time_format import full_time

FIELDS = (
    ("message", "Message"),
    ("role", "Role"),
    ("status", "Message status"),
    ("execution", "Execution"),
    ("execution_status", "Run status"),
    ("crew", "Crew"),
    ("model", "Model"),
    ("started", "Started"),
    ("finished", "Finished"),
    ("tokens", "Tokens"),
    ("error", "Error"),
)


class ExecutionPanel(QDockWidget):
    """A dock showing the execution behind the selected message."""

    def __init__(self, services: Services, user_id: int, parent: QWidget | None = None) -> None:
        super().__init__("Run details", parent)
        self.setObjectName("executionLog")
        self.setAccessibleName("Run details")
        self._services = services
        self._user_id = user_id
        self._message: MessageRecord | None = None
        self._executions: dict[int, ExecutionRecord] = {}
        body = QWidget(self)
        self._hint = QLabel("Select a message to see how its reply was made.", body)
        self._hint.setTextFormat(Qt.TextFormat.PlainText)
        self._hint.setWordWrap(True)
        self._form = QFormLayout()
        self._values: dict[str, QLabel] = {}
        for key, label in FIELDS:
            value = QLabel("—", body)
            value.setTextFormat(Qt.TextFormat.PlainText)  # never guess rich text
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._values[key] = value
            self._form.addRow(label, value)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self._hint)
        layout.addLayout(self._form)
        layout.addStretch(1)
        self.setWidget(body)
        self.setMinimumWidth(240)
        self._render()

    def value(self, key: str) -> str:
        """The text shown for ``key`` (see ``FIELDS``)."""
        return self._values[key].text()

    def set_message(self, message: MessageRecord | None) -> None:
        self._message = message
        if message is not None and message.execution_id is not None:
            self._load_execution(message.execution_id)
        self._render()

    def on_message_changed(self, change: Change) -> None:
        if self._message is not None and change.id == self._message.id:
            record = change.record if isinstance(change.record, MessageRecord) else None
            self.set_message(record)

    def on_execution_changed(self, change: Change) -> None:
        if isinstance(change.record, ExecutionRecord):
            self._executions[change.id] = change.record
            if self._message is not None and self._message.execution_id == change.id:
                self._render()

    def _load_execution(self, execution_id: int) -> None:
        if execution_id in self._executions:
            return
        with contextlib.suppress(ServiceError):
            self._executions[execution_id] = self._services.executions.get(
                self._user_id, execution_id
            )

    def _render(self) -> None:
        m = self._message
        self._hint.setVisible(m is None)
        for key, _ in FIELDS:
            self._values[key].setText("—")
        if m is None:
            return
        v = self._values
        v["message"].setText(f"#{m.id}  ·  {full_time(m.created_at)}")
        v["role"].setText(m.role.value)
        v["status"].setText(m.status.value)
        if m.execution_id is None:
            v["execution"].setText("none (this message started no run)")
            return
        v["execution"].setText(f"#{m.execution_id}")
        e = self._executions.get(m.execution_id)
        if e is None:
            return
        v["execution_status"].setText(e.status.value)
        v["crew"].setText(e.crew)
        v["model"].setText(e.model or "default")
        v["started"].setText(full_time(e.started_at))
        v["finished"].setText(full_time(e.finished_at))
        if e.total_tokens is not None:
            v["tokens"].setText(
                f"{e.total_tokens} ({e.prompt_tokens or 0} in, {e.completion_tokens or 0} out)"
            )
        if e.error:
            v["error"].setText(e.error)
