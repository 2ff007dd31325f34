"""Column widths of the Run-details steps: as wide as what they show, within limits.

Why not fixed widths: agent roles ("Senior Research Analyst") and task names (a task
without a name is known by its description) vary from crew to crew, so widths guessed
from a sample cut real names short. Why not plain ResizeToContents: one task
description of 200 characters would push the Event and Tokens columns out of a
narrow dock, and QHeaderView measures every row to do it.

So each column is as wide as the widest text its steps have shown so far (measured
once per distinct text, as steps arrive), capped at a few dozen characters; a longer
text is elided and its cell's tooltip shows it whole (``_RoomyDelegate.helpEvent``).
Space the dock has left over goes to the Task column first (up to its full text); in
a dock too narrow for all six, Tool, Task and then Agent shrink (to about a dozen
characters) before the view scrolls sideways. A column the reader resized by hand
keeps the reader's width.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QTreeView

from chatdesk.ui.list_model import Index
from chatdesk.ui.trace.trace_model import TraceModel
from chatdesk.ui.trace.trace_text import COLUMNS

TIME, AGENT, TASK, EVENT, TOOL, TOKENS = range(len(COLUMNS))
TIME_SAMPLE = "00:00:00.000"
MIN_SAMPLES = {AGENT: "Researcher", TASK: "research", EVENT: "Agent completed", TOKENS: "9,999"}
"""Widths to show before any step has arrived (an empty run still looks laid out)."""
MAX_CHARS = {AGENT: 24, TASK: 40, EVENT: 20, TOOL: 22, TOKENS: 10}
"""Most characters (average width) a column grows to before it elides."""
MIN_CHARS = {AGENT: 12, TASK: 12, TOOL: 10}
SHRINK_ORDER = (TOOL, TASK, AGENT)
"""In a dock too narrow for every column, these give up room in this order (down to
``MIN_CHARS``) so that the Event column stays in view: tool names are long snake_case
and rare, task descriptions long, agent roles short and what one scans for."""


class TraceColumns(QObject):
    """Sizes the columns of a ``TraceView`` to their steps' text (see the module doc)."""

    def __init__(self, view: QTreeView, model: TraceModel) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._natural: dict[int, int] = {}
        self._seen: dict[int, set[str]] = {}
        self._manual: set[int] = set()
        self._fitting = False
        self._pending = False
        self._reset_measures()
        header = view.header()
        header.sectionResized.connect(self.on_section_resized)
        model.modelReset.connect(self.on_model_reset)
        model.rowsInserted.connect(self.on_rows_inserted)
        view.viewport().installEventFilter(self)
        self.fit()

    def _pad(self) -> int:
        return self._view.fontMetrics().horizontalAdvance("MM")

    def _reset_measures(self) -> None:
        header_metrics = QFontMetrics(self._view.header().font())
        pad = self._pad()
        for column in range(1, len(COLUMNS)):
            title = header_metrics.horizontalAdvance(COLUMNS[column]) + pad
            sample = MIN_SAMPLES.get(column, "")
            self._natural[column] = max(
                title, self._view.fontMetrics().horizontalAdvance(sample) + pad
            )
            self._seen[column] = set()

    def cap(self, column: int) -> int:
        """The widest a column grows by itself."""
        return self._view.fontMetrics().averageCharWidth() * MAX_CHARS[column] + self._pad()

    def floor(self, column: int) -> int:
        """The narrowest a column gets to make room in a narrow dock."""
        return self._view.fontMetrics().averageCharWidth() * MIN_CHARS[column] + self._pad()

    def natural(self, column: int) -> int:
        """The width that shows every text of ``column`` seen so far whole."""
        return self._natural[column]

    def measure(self, parent: Index, first: int, last: int) -> None:
        """Note the widths of the step rows ``first``..``last`` under run ``parent``."""
        metrics = self._view.fontMetrics()
        pad = self._pad()
        for column in range(1, len(COLUMNS)):
            seen = self._seen[column]
            widest = self._natural[column]
            for row in range(first, last + 1):
                text = self._model.index(row, column, parent).data()
                if not text or text in seen:
                    continue
                seen.add(text)
                widest = max(widest, metrics.horizontalAdvance(str(text)) + pad)
            self._natural[column] = widest

    def fit(self) -> None:
        """Apply the widths: natural within caps, the dock's spare room to Task."""
        self._pending = False
        metrics = self._view.fontMetrics()
        widths = {TIME: metrics.horizontalAdvance(TIME_SAMPLE) + self._pad()}
        widths[TIME] += self._view.indentation()  # steps are indented under their run
        for column in range(1, len(COLUMNS)):
            widths[column] = min(self._natural[column], self.cap(column))
        for column in self._manual:
            widths[column] = self._view.columnWidth(column)
        spare = self._view.viewport().width() - sum(widths.values())
        if spare > 0 and TASK not in self._manual:
            widths[TASK] += min(spare, max(0, self._natural[TASK] - widths[TASK]))
        for column in SHRINK_ORDER:  # a narrow dock: names elide before it scrolls
            if spare < 0 and column not in self._manual:
                give = min(-spare, max(0, widths[column] - self.floor(column)))
                widths[column] -= give
                spare += give
        self._fitting = True
        try:
            for column, width in widths.items():
                if column not in self._manual and self._view.columnWidth(column) != width:
                    self._view.setColumnWidth(column, width)
        finally:
            self._fitting = False

    def _fit_soon(self) -> None:
        """Fit once per event-loop turn, however many steps arrive in it."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.fit)

    def on_model_reset(self) -> None:
        self._reset_measures()
        for run in range(self._model.rowCount()):
            parent = self._model.index(run, 0)
            rows = self._model.rowCount(parent)
            if rows:
                self.measure(parent, 0, rows - 1)
        self._fit_soon()

    def on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            self.measure(parent, first, last)
            self._fit_soon()

    def on_section_resized(self, column: int, _old: int, _new: int) -> None:
        if not self._fitting and column != len(COLUMNS) - 1:  # the last one stretches
            self._manual.add(column)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._fit_soon()
        return False
