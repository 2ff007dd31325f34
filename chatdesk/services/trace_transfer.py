"""A run's steps (its *Run details*) in a chatdesk JSON export, and back.

Each execution of an export carries ``"trace"``: its ``execution_logs`` rows in ``seq``
order (``seq``, ``event``, ``agent_role``, ``task_name``, ``detail``, ``created_at``),
redacted as the services redact a step when they write it (``redact`` on the names,
``redact_data`` on the detail), once more on the way out: a row an older chatdesk kept
may hold a key a provider echoed. ``"steps"`` (the count) stays for older readers.

Export reads a thread's steps a page at a time (``PAGE_STEPS`` rows, whatever the
number of runs), in the order the executions are written, so a thread's trace is never
held whole. Import checks each execution's trace with the execution (pass one) and
writes it once its execution has its new id (pass two), ``WRITE_STEPS`` rows per
short background transaction.

This module keeps the trace's own code; ``transfer.py`` calls it at three places
(writing an execution, checking one, writing the executions of a chunk).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert, or_, select
from sqlalchemy.orm import Session

from chatdesk.redact import redact, redact_data
from chatdesk.services.errors import ValidationError
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, ExecutionLog

PAGE_STEPS = 250
"""Step rows read per query on export (a detail holds up to 64,000 characters)."""
WRITE_STEPS = 1_000
"""Step rows written per transaction of an import; also how many a chunk may hold."""
MAX_EVENT_CHARS = 100
MAX_AGENT_ROLE_CHARS = 200
MAX_TASK_NAME_CHARS = 500
MAX_DETAIL_DEPTH = 32
MAX_SEQ = 2**31 - 1
"""An INTEGER column on PostgreSQL."""
_NOT_STORABLE = re.compile("[\ud800-\udfff\x00]")

_STEP_COLUMNS = (
    ExecutionLog.execution_id,
    ExecutionLog.seq,
    ExecutionLog.event,
    ExecutionLog.agent_role,
    ExecutionLog.task_name,
    ExecutionLog.detail,
    ExecutionLog.created_at,
)


class TraceError(ValidationError):
    """A step that cannot be imported; the message names its place."""


# -- export -----------------------------------------------------------------------------


class TraceReader:
    """The steps of one thread's runs, asked for run by run in ascending id order.

    Reads pages of ``PAGE_STEPS`` rows by keyset over ``(execution_id, seq)``: one
    query per page whatever the number of runs, walking the thread's runs by the
    ``thread_id`` index and each run's steps by the ``(execution_id, seq)`` unique index,
    in the order they are written (250,000 steps of 50,000 runs: ~1 s).
    """

    def __init__(self, session: Session, thread_id: int) -> None:
        self._session = session
        self._thread_id = thread_id
        self._page: list[Row[Any]] = []
        self._at = 0  # next row of the page
        self._after = (0, -1)  # the last (execution_id, seq) read
        self._done = False

    def items(self, execution_id: int) -> Iterator[dict[str, Any]]:
        """The steps of ``execution_id`` as export items, redacted."""
        for row in self._rows(execution_id):
            yield {
                "seq": row.seq,
                "event": redact(row.event),
                "agent_role": redact(row.agent_role) if row.agent_role else row.agent_role,
                "task_name": redact(row.task_name) if row.task_name else row.task_name,
                "detail": redact_data(row.detail or {}),
                "created_at": row.created_at.astimezone(UTC).isoformat(),
            }

    def _rows(self, execution_id: int) -> Iterator[Row[Any]]:
        while True:
            while self._at < len(self._page):
                row = self._page[self._at]
                if row.execution_id > execution_id:
                    return
                self._at += 1
                if row.execution_id == execution_id:
                    yield row
            if self._done:
                return
            self._read_page()

    def _read_page(self) -> None:
        last_run, last_seq = self._after
        self._page = list(
            self._session.execute(
                select(*_STEP_COLUMNS)
                .join(Execution, Execution.id == ExecutionLog.execution_id)
                .where(
                    Execution.thread_id == self._thread_id,
                    Execution.id >= last_run,
                    or_(ExecutionLog.execution_id > last_run, ExecutionLog.seq > last_seq),
                )
                # by the run's own id: its rows come in index order, no sort (SQLite)
                .order_by(Execution.id, ExecutionLog.seq)
                .limit(PAGE_STEPS)
            )
        )
        self._at = 0
        self._done = len(self._page) < PAGE_STEPS
        if self._page:
            self._after = (self._page[-1].execution_id, self._page[-1].seq)


# -- checking an import -----------------------------------------------------------------


def checked_steps(item: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """``item["trace"]`` (an execution of the file at ``where``) as rows to insert.

    No trace (an older chatdesk's file) is no steps. Raises ``TraceError`` naming the
    first problem's place.
    """
    trace = item.get("trace")
    if trace is None:
        return []
    if not isinstance(trace, list):
        raise TraceError(f"{where}.trace: expected a list.")
    steps = item.get("steps")
    if type(steps) is int and steps != len(trace):
        raise TraceError(f"{where}.steps: {steps} steps, but its trace holds {len(trace)}.")
    rows = []
    last_seq = -1
    for n, step in enumerate(trace):
        row = _step_values(step, f"{where}.trace[{n}]")
        if row["seq"] <= last_seq:
            raise TraceError(
                f"{where}.trace[{n}].seq: {row['seq']} does not come after {last_seq}."
            )
        last_seq = row["seq"]
        rows.append(row)
    return rows


def _step_values(step: object, where: str) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise TraceError(f"{where}: expected an object.")
    seq = step.get("seq")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise TraceError(f"{where}.seq: expected a whole number from 0 to {MAX_SEQ:,}.")
    event = _plain(step, "event", where, MAX_EVENT_CHARS)
    if not event:
        raise TraceError(f"{where}.event: the field 'event' is missing.")
    detail = step.get("detail")
    if detail is None:
        detail = {}
    if not isinstance(detail, dict):
        raise TraceError(f"{where}.detail: expected an object.")
    _check_depth(detail, f"{where}.detail")
    return {
        "seq": seq,
        "event": event,
        "agent_role": _plain(step, "agent_role", where, MAX_AGENT_ROLE_CHARS),
        "task_name": _plain(step, "task_name", where, MAX_TASK_NAME_CHARS),
        "detail": detail,
        "created_at": _moment(step.get("created_at"), f"{where}.created_at") or utcnow(),
    }


def _plain(step: Mapping[str, Any], name: str, where: str, limit: int) -> str | None:
    """Text for a plain column: no NUL (PostgreSQL refuses it), no lone surrogate."""
    value = step.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TraceError(f"{where}.{name}: expected text.")
    if len(value) > limit:
        raise TraceError(f"{where}.{name}: at most {limit:,} characters.")
    bad = _NOT_STORABLE.search(value)
    if bad is not None:
        what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate (not Unicode)"
        raise TraceError(f"{where}.{name}: holds {what} at character {bad.start()}.")
    return value


def _check_depth(value: object, where: str) -> None:
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DETAIL_DEPTH:
            raise TraceError(f"{where}: nested more than {MAX_DETAIL_DEPTH} levels deep.")
        if isinstance(item, dict):
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, depth + 1) for v in item)


def _moment(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TraceError(f"{where}: expected an ISO 8601 time as text.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        shown = _NOT_STORABLE.sub("\ufffd", value[:40])
        raise TraceError(f"{where}: {shown!r} is not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise TraceError(f"{where}: the time has no time zone.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise TraceError(f"{where}: year {moment.year} with a time zone is out of range.") from None


# -- writing an import --------------------------------------------------------------------


class HeldSteps:
    """Pass two's steps, held until their executions have their new ids."""

    def __init__(self) -> None:
        self._held: list[tuple[object, list[dict[str, Any]]]] = []
        self.count = 0
        """Steps held: ``transfer`` writes its executions early when this grows."""

    def add(self, ref: object, item: Mapping[str, Any], where: str) -> None:
        steps = checked_steps(item, where)
        if steps:
            self._held.append((ref, steps))
            self.count += len(steps)

    def write(self, uow: UnitOfWork, new_ids: Mapping[object, int]) -> None:
        """Insert the held steps under their executions' new ids, ``WRITE_STEPS`` rows
        per background transaction (the executions are staged: no one sees them yet)."""
        batch: list[dict[str, Any]] = []
        for ref, steps in self._held:
            execution_id = new_ids[ref]
            for step in steps:
                batch.append({**step, "execution_id": execution_id})
                if len(batch) >= WRITE_STEPS:
                    _insert(uow, batch)
                    batch = []
        if batch:
            _insert(uow, batch)
        self._held.clear()
        self.count = 0


def _insert(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    with uow.write(background=True) as (session, _changes):
        session.execute(insert(ExecutionLog), rows)
