"""The "Run details" dock (objectName ``executionLog``): what ran for the selected message.

At the top, the selected message and its current execution's fields (status, crew,
model, times, tokens, error). Below, every step its runs logged, as a tree of runs
(a retried message keeps its old runs) and their steps, live while a run goes on and
read from the database afterwards; under it, the selected step's full payload.

Everything here is plain text: step payloads are model output, never rendered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelection, QModelIndex, QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDockWidget,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.events import Change
from chatdesk.services.records import ExecutionRecord, MessageRecord
from chatdesk.ui.scaled_font import keep_scaled
from chatdesk.ui.theme import DARK, LIGHT
from chatdesk.ui.time_format import full_time
from chatdesk.ui.trace.trace_model import TraceModel, TraceRoles
from chatdesk.ui.trace.trace_view import TraceView
from chatdesk.vocabulary import ExecutionStatus, Role, status_word

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
NO_SELECTION = "Select a message to see how its reply was made."
WRITTEN_BY_YOU = "This message was written by you; it started no run."
SYSTEM_MESSAGE = "A system message: no run wrote it."
NO_RUN = "No run is recorded for this message."
NO_STEPS_PENDING = "No steps yet: the run is waiting to start."
NO_STEPS_RUNNING = "No steps yet: the run has started."
NO_STEPS_ENDED = "This run recorded no steps."
DETAIL_PLACEHOLDER = "Select a step to see everything it recorded."
MIN_WIDTH = 320
PREFERRED_WIDTH = 520
"""Wide enough for the steps' six columns; the dock opens this wide unless resized."""
DETAIL_HEIGHT = 180


class _Body(QWidget):
    """The dock's content; its size hint sets the dock's first width."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("traceBody")

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), PREFERRED_WIDTH), hint.height())


class ExecutionPanel(QDockWidget):
    """A dock showing the execution behind the selected message, step by step."""

    def __init__(self, services: Services, user_id: int, parent: QWidget | None = None) -> None:
        super().__init__("Run details", parent)
        self.setObjectName("executionLog")
        self.setAccessibleName("Run details")
        self._services = services
        self._user_id = user_id
        self._message: MessageRecord | None = None
        self._executions: dict[int, ExecutionRecord] = {}
        body = _Body(self)
        self._form = QFormLayout()
        self._form.setHorizontalSpacing(12)
        self._form.setVerticalSpacing(3)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self._values: dict[str, QLabel] = {}
        for key, label in FIELDS:
            value = QLabel("—", body)
            value.setTextFormat(Qt.TextFormat.PlainText)  # never guess rich text
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._values[key] = value
            self._form.addRow(label, value)

        self.model = TraceModel(services, user_id, self)
        self.steps = TraceView(self.model, body)
        self._steps_hint = QLabel(NO_SELECTION, body)
        self._steps_hint.setObjectName("traceEmpty")
        self._steps_hint.setTextFormat(Qt.TextFormat.PlainText)
        self._steps_hint.setWordWrap(True)
        self._steps_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._steps_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._stack = QStackedWidget(body)
        self._stack.addWidget(self.steps)
        self._stack.addWidget(self._steps_hint)
        self.detail = QPlainTextEdit(body)
        self.detail.setObjectName("traceDetail")
        self.detail.setAccessibleName("Step detail")
        self.detail.setReadOnly(True)  # plain text only: the payload is untrusted
        self.detail.setPlaceholderText(DETAIL_PLACEHOLDER)
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        keep_scaled(self.detail, fixed=True)
        self._split = QSplitter(Qt.Orientation.Vertical, body)
        self._split.setObjectName("traceSplitter")
        self._split.addWidget(self._stack)
        self._split.addWidget(self.detail)
        self._split.setStretchFactor(0, 3)
        self._split.setStretchFactor(1, 1)
        self._split.setChildrenCollapsible(False)
        self._split.setSizes([2 * DETAIL_HEIGHT, DETAIL_HEIGHT])

        layout = QVBoxLayout(body)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(8)
        layout.addLayout(self._form)
        layout.addWidget(self._split, 1)
        self.setWidget(body)
        self.setMinimumWidth(MIN_WIDTH)
        self.before_show: Callable[[], Callable[[], None] | None] | None = None
        """Called just before the dock appears: the window decides docked or floating,
        and may return what to do once it shows (give it its width)."""

        self.steps.selectionModel().currentChanged.connect(self.on_current_step_changed)
        self.steps.selectionModel().selectionChanged.connect(self.on_step_selection_changed)
        self.model.dataChanged.connect(self.on_model_data_changed)
        self.model.modelReset.connect(self._show_steps_or_hint)
        self.model.rowsInserted.connect(self._show_steps_or_hint)
        self._apply_colors()
        self._render()

    # -- reading what it shows (tests, tools) -----------------------------------------

    def setVisible(self, visible: bool) -> None:
        shown = None
        if visible and self.isHidden() and self.before_show is not None:
            shown = self.before_show()
        super().setVisible(visible)
        if shown is not None:
            shown()

    def value(self, key: str) -> str:
        """The text shown for ``key`` (see ``FIELDS``)."""
        return self._values[key].text()

    def empty_text(self) -> str | None:
        """The hint shown instead of the steps, or None while steps are shown."""
        return None if self._stack.currentWidget() is self.steps else self._steps_hint.text()

    # -- inputs -----------------------------------------------------------------------

    def set_message(self, message: MessageRecord | None) -> None:
        """Show ``message``'s runs (from the database: works offline, for any past run)."""
        previous = self._message
        self._message = message
        if message is not None and message.execution_id is not None:
            self._load_execution(message.execution_id)
        if message is None:
            self.model.clear()
        elif previous is None or previous.id != message.id:
            self.model.set_runs(self._runs_of(message))
        elif message.execution_id is not None and message.execution_id not in self.model.run_ids():
            self._add_new_runs(message)  # Retry: a new run, the old ones stay
        self._render()
        self._show_steps_or_hint()

    def on_message_changed(self, change: Change) -> None:
        if self._message is not None and change.id == self._message.id:
            record = change.record if isinstance(change.record, MessageRecord) else None
            self.set_message(record)

    def on_execution_changed(self, change: Change) -> None:
        if isinstance(change.record, ExecutionRecord):
            self._executions[change.id] = change.record
            self.model.on_execution_changed(change)
            if self._message is not None and self._message.execution_id == change.id:
                self._render()
                self._show_steps_or_hint()

    def on_log_changed(self, change: Change) -> None:
        """A step was stored: it appears (and is followed when the view is at the bottom)."""
        execution_id = change.fields.get("execution_id")
        if not isinstance(execution_id, int) or execution_id not in self.model.run_ids():
            return
        self.steps.note_follow()
        shown = self.model.on_log_changed(change)
        run = self.model.run_index(execution_id)
        if not shown and self.steps.at_bottom() and self.model.canFetchMore(run):
            self.model.fetchMore(run)  # not all read yet: read on, as scrolling would
            shown = True
        if shown:
            self.steps.follow()

    # -- steps and detail -------------------------------------------------------------

    def on_current_step_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(current)

    def on_step_selection_changed(self, _on: QItemSelection, _off: QItemSelection) -> None:
        if not self.steps.selectionModel().hasSelection():
            self.detail.clear()

    def on_model_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        current = self.steps.currentIndex()
        if (
            current.isValid()
            and not current.parent().isValid()
            and top_left.parent() == current.parent()
            and top_left.row() <= current.row() <= bottom_right.row()
        ):
            self._show_detail(current)

    def _show_detail(self, index: QModelIndex) -> None:
        text = index.siblingAtColumn(0).data(TraceRoles.Detail) if index.isValid() else None
        if isinstance(text, str):
            self.detail.setPlainText(text)
        else:
            self.detail.clear()

    def _show_steps_or_hint(self, *_args: object) -> None:
        hint = self._empty_hint()
        if hint is None:
            self._stack.setCurrentWidget(self.steps)
        else:
            self._steps_hint.setText(hint)
            self._stack.setCurrentWidget(self._steps_hint)
        self.detail.setVisible(hint is None)

    def _empty_hint(self) -> str | None:
        """Why there are no steps to show, or None when there are."""
        m = self._message
        if m is None:
            return NO_SELECTION
        runs = self.model.run_ids()
        if not runs:
            if m.role is Role.USER:
                return WRITTEN_BY_YOU
            return SYSTEM_MESSAGE if m.role is Role.SYSTEM else NO_RUN
        if self.model.step_count() or len(runs) > 1:
            return None
        run = self._executions.get(runs[-1]) or self.model.run(self.model.run_index(runs[-1]))
        if run is None or run.status is ExecutionStatus.PENDING:
            return NO_STEPS_PENDING
        if run.status is ExecutionStatus.RUNNING:
            return NO_STEPS_RUNNING
        return NO_STEPS_ENDED

    # -- reading the store ------------------------------------------------------------

    def _runs_of(self, message: MessageRecord) -> list[ExecutionRecord]:
        try:
            runs = self._services.executions.runs_for_message(self._user_id, message.id)
        except ServiceError:
            return []
        for run in runs:
            self._executions.setdefault(run.id, run)
        return [self._executions[run.id] for run in runs]

    def _add_new_runs(self, message: MessageRecord) -> None:
        known = self.model.run_ids()
        runs = self._runs_of(message)
        if [run.id for run in runs[: len(known)]] != known:
            self.model.set_runs(runs)
            return
        for run in runs[len(known) :]:
            self.model.add_run(run)

    def _load_execution(self, execution_id: int) -> None:
        if execution_id in self._executions:
            return
        with contextlib.suppress(ServiceError):
            self._executions[execution_id] = self._services.executions.get(
                self._user_id, execution_id
            )

    # -- looks ------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_colors()
        super().changeEvent(event)

    def _apply_colors(self) -> None:
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        colors = DARK if dark else LIGHT
        self.model.set_colors(colors.q("muted"), colors.q("error"))
        muted = f"color: {colors.muted};"
        self._steps_hint.setStyleSheet(muted)

    def _render(self) -> None:
        m = self._message
        for key, _ in FIELDS:
            self._values[key].setText("—")
        if m is not None:
            self._render_message(m)
        for row, (key, _) in enumerate(FIELDS):  # only what there is to say
            self._form.setRowVisible(row, m is not None and self.value(key) != "—")

    def _render_message(self, m: MessageRecord) -> None:
        v = self._values
        v["message"].setText(f"#{m.id}  ·  {full_time(m.created_at)}")
        v["role"].setText(m.role.value)
        v["status"].setText(status_word(m.status))
        if m.execution_id is None:
            v["execution"].setText("none (this message started no run)")
            return
        runs = self.model.run_ids()
        retried = ""
        if len(runs) > 1 and m.execution_id in runs:
            retried = f"  ·  run {runs.index(m.execution_id) + 1} of {len(runs)}"
        v["execution"].setText(f"#{m.execution_id}{retried}")
        e = self._executions.get(m.execution_id)
        if e is None:
            return
        v["execution_status"].setText(status_word(e.status))
        v["crew"].setText(e.crew)
        v["model"].setText(e.model or "default")
        v["started"].setText(full_time(e.started_at))
        v["finished"].setText(full_time(e.finished_at))
        if e.total_tokens is not None:
            v["tokens"].setText(
                f"{e.total_tokens:,} ({e.prompt_tokens or 0:,} in, "
                f"{e.completion_tokens or 0:,} out)"
            )
        if e.error:
            v["error"].setText(e.error)
