"""The steps of a message's runs as a two-level Qt model: runs, and under each its steps.

Why a tree: a retried message has several runs and the old ones stay in the trace, so
each run is a group (oldest first, so a live run's new steps land at the very bottom).
Steps are read from the execution service in pages (``fetchMore``), and a live run's
new steps arrive from the change bus, one ``beginInsertRows`` per step, never a reload.

Indexes carry their run in ``internalId``: 0 for a run row, the execution id for a
step row, so ``parent()`` is a dict lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import auto
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QByteArray,
    QModelIndex,
    QObject,
    Qt,
)
from PySide6.QtGui import QColor, QFont

from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.events import Change
from chatdesk.services.records import ExecutionLogRecord, ExecutionRecord
from chatdesk.ui.list_model import ROOT as _ROOT
from chatdesk.ui.list_model import Index, Roles, role_names
from chatdesk.ui.trace.trace_text import COLUMNS, describe_run, describe_step, is_failure, run_title
from chatdesk.ui.trace.trace_text import step_cells as _cells

PAGE_SIZE = 200
"""Steps read per page; a run can hold thousands."""

_COLUMN_COUNT = len(COLUMNS)
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_RUN_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_STEP_FLAGS = _RUN_FLAGS | Qt.ItemFlag.ItemNeverHasChildren


class TraceRoles(Roles):
    """Data roles besides display (named in ``roleNames`` for tests and tools)."""

    ExecutionId = auto()
    Seq = auto()
    Event = auto()
    IsRun = auto()
    Detail = auto()


@dataclass
class _Run:
    record: ExecutionRecord
    steps: list[ExecutionLogRecord] = field(default_factory=list)
    cells: list[tuple[str, ...]] = field(default_factory=list)
    complete: bool = False
    """True when every stored step is loaded (new ones then come from the bus)."""

    @property
    def next_seq(self) -> int:
        return self.steps[-1].seq + 1 if self.steps else 0


class TraceModel(QAbstractItemModel):
    """The runs of one message and their steps, for the trace panel's tree."""

    def __init__(self, services: Services, user_id: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._services = services
        self._user_id = user_id
        self._runs: list[_Run] = []
        self._row_of: dict[int, int] = {}
        self.muted = QColor("#6b7280")
        self.error = QColor("#b42318")

    # -- what it shows ------------------------------------------------------------------

    def set_runs(self, runs: Sequence[ExecutionRecord]) -> None:
        """Show these runs (oldest first), each with its first page of steps."""
        self.beginResetModel()
        self._runs = []
        self._row_of = {}
        for record in runs:
            self._row_of[record.id] = len(self._runs)
            run = _Run(record)
            self._runs.append(run)
            self._load_page(run)
        self.endResetModel()

    def add_run(self, record: ExecutionRecord) -> None:
        """A new run of the same message (Retry): a group at the end, the old ones kept."""
        if record.id in self._row_of:
            return
        run = _Run(record)
        self._load_page(run)
        row = len(self._runs)
        self.beginInsertRows(_ROOT, row, row)
        self._runs.append(run)
        self._row_of[record.id] = row
        self.endInsertRows()

    def clear(self) -> None:
        self.set_runs(())

    def run_ids(self) -> list[int]:
        return [run.record.id for run in self._runs]

    def step_count(self) -> int:
        """Steps loaded so far, over all runs."""
        return sum(len(run.steps) for run in self._runs)

    def run_index(self, execution_id: int) -> QModelIndex:
        row = self._row_of.get(execution_id)
        return self.index(row, 0) if row is not None else QModelIndex()

    def run(self, index: Index) -> ExecutionRecord | None:
        """The run of a run row."""
        if index.isValid() and index.internalId() == 0:
            return self._runs[index.row()].record
        return None

    def step(self, index: Index) -> ExecutionLogRecord | None:
        """The step of a step row."""
        run = self._run_of_step(index)
        return run.steps[index.row()] if run is not None else None

    def row_text(self, index: Index) -> str:
        """A row as one line of text, tab-separated (what Copy puts on the clipboard)."""
        run = self._run_of_step(index)
        if run is not None:
            return "\t".join(run.cells[index.row()])
        if index.isValid():
            return str(self.data(self.index(index.row(), 0)))
        return ""

    # -- keeping current --------------------------------------------------------------

    def on_log_changed(self, change: Change) -> bool:
        """A step was stored; True when it was appended here (it is shown now)."""
        execution_id = change.fields.get("execution_id")
        row = self._row_of.get(execution_id) if isinstance(execution_id, int) else None
        if row is None or not isinstance(change.record, ExecutionLogRecord):
            return False
        run = self._runs[row]
        step = change.record
        if not run.complete or step.seq < run.next_seq:
            return False  # a page read will bring it, or it is already here
        if step.seq > run.next_seq:
            run.complete = False  # a gap: read the missing steps as a page instead
            return False
        parent = self.index(row, 0)
        at = len(run.steps)
        self.beginInsertRows(parent, at, at)
        run.steps.append(step)
        run.cells.append(_cells(step))
        self.endInsertRows()
        self.dataChanged.emit(parent, parent, [Qt.ItemDataRole.DisplayRole])
        return True

    def on_execution_changed(self, change: Change) -> None:
        """A run's status or totals changed: its header row says so."""
        row = self._row_of.get(change.id)
        if row is None or not isinstance(change.record, ExecutionRecord):
            return
        self._runs[row].record = change.record
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)

    def set_colors(self, muted: QColor, error: QColor) -> None:
        self.muted, self.error = QColor(muted), QColor(error)
        if self._runs:
            last = self.index(len(self._runs) - 1, 0)
            self.dataChanged.emit(self.index(0, 0), last, [Qt.ItemDataRole.ForegroundRole])
            for row, run in enumerate(self._runs):
                if run.steps:
                    parent = self.index(row, 0)
                    self.dataChanged.emit(
                        self.index(0, 0, parent),
                        self.index(len(run.steps) - 1, len(COLUMNS) - 1, parent),
                        [Qt.ItemDataRole.ForegroundRole],
                    )

    # -- paging -----------------------------------------------------------------------

    def canFetchMore(self, parent: Index) -> bool:
        run = self._runs[parent.row()] if self.run(parent) is not None else None
        return run is not None and not run.complete

    def fetchMore(self, parent: Index) -> None:
        if not self.canFetchMore(parent):
            return
        run = self._runs[parent.row()]
        page = self._read_page(run)
        if page:
            first = len(run.steps)
            self.beginInsertRows(self.index(parent.row(), 0), first, first + len(page) - 1)
            self._append(run, page)
            self.endInsertRows()
        index = self.index(parent.row(), 0)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    def _load_page(self, run: _Run) -> None:
        self._append(run, self._read_page(run))

    def _read_page(self, run: _Run) -> list[ExecutionLogRecord]:
        try:
            page = self._services.executions.logs(
                self._user_id, run.record.id, after_seq=run.next_seq - 1, limit=PAGE_SIZE
            )
        except ServiceError:  # the run is gone (its thread was deleted): nothing to read
            run.complete = True
            return []
        run.complete = len(page) < PAGE_SIZE
        return page

    @staticmethod
    def _append(run: _Run, steps: list[ExecutionLogRecord]) -> None:
        run.steps.extend(steps)
        run.cells.extend(_cells(step) for step in steps)

    # -- QAbstractItemModel -----------------------------------------------------------

    # The tree view walks every row on each layout, so these stay as cheap as Python allows.

    def index(self, row: int, column: int, parent: Index = _ROOT) -> QModelIndex:
        if not 0 <= column < _COLUMN_COUNT or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._runs) else QModelIndex()
        if parent.internalId() != 0 or parent.column() != 0:
            return QModelIndex()
        run = self._runs[parent.row()]
        if row >= len(run.steps):
            return QModelIndex()
        return self.createIndex(row, column, run.record.id)

    def parent(self, child: Index = _ROOT) -> QModelIndex:  # type: ignore[override]
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        row = self._row_of.get(child.internalId())
        return self.createIndex(row, 0, 0) if row is not None else QModelIndex()

    def rowCount(self, parent: Index = _ROOT) -> int:
        if not parent.isValid():
            return len(self._runs)
        if parent.column() == 0 and parent.internalId() == 0:
            return len(self._runs[parent.row()].steps)
        return 0

    def columnCount(self, parent: Index = _ROOT) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent: Index = _ROOT) -> bool:
        if not parent.isValid():
            return bool(self._runs)
        if parent.column() == 0 and parent.internalId() == 0:
            run = self._runs[parent.row()]
            return bool(run.steps) or not run.complete
        return False

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return _NO_FLAGS
        return _RUN_FLAGS if index.internalId() == 0 else _STEP_FLAGS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run = self._run_of_step(index)
        if run is not None:
            return self._step_data(run, index, role)
        return self._run_data(self._runs[index.row()], index.column(), role)

    def _run_data(self, run: _Run, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return run_title(run.record, len(run.steps), not run.complete) if column == 0 else ""
        if role == Qt.ItemDataRole.FontRole and column == 0:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and run.record.error:
            return self.error
        if role == TraceRoles.ExecutionId:
            return run.record.id
        if role == TraceRoles.IsRun:
            return True
        if role == TraceRoles.Detail:
            return describe_run(run.record)
        return None

    def _step_data(self, run: _Run, index: Index, role: int) -> Any:
        step = run.steps[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return run.cells[index.row()][index.column()]
        if role == Qt.ItemDataRole.ForegroundRole:
            if is_failure(step.event):
                return self.error
            return self.muted if index.column() == 0 else None
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == len(COLUMNS) - 1:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == TraceRoles.ExecutionId:
            return step.execution_id
        if role == TraceRoles.Seq:
            return step.seq
        if role == TraceRoles.Event:
            return step.event
        if role == TraceRoles.IsRun:
            return False
        if role == TraceRoles.Detail:
            return describe_step(step)
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update(role_names(TraceRoles))
        return names

    def _run_of_step(self, index: Index) -> _Run | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        row = self._row_of.get(index.internalId())
        return self._runs[row] if row is not None else None
