"""What an upgrade is doing, told to whoever shows it, and a way to stop it safely.

``open_store`` takes an ``UpgradeMonitor``: it reports each step (checking, backing up
with bytes copied, each migration by name) and is asked between and inside SQL
statements whether the person wants to stop. Stopping raises ``UpgradeCancelled``:
during the backup the partial copy is deleted; during the migrations the single
migration transaction is rolled back, so the database is exactly as it was. No Qt here:
the monitor's ``report`` is a plain callable, called on the thread doing the work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Connection, event

from chatdesk.store.errors import UpgradeCancelled

# SQLite calls the stop check every this many virtual-machine steps of a statement
# (well under a millisecond), so a long statement such as an FTS rebuild stops at once.
SQLITE_CHECK_EVERY_OPS = 10_000
# Alembic logs "Running upgrade A -> B, doc" on this logger as it starts each revision.
ALEMBIC_RUNNER_LOGGER = "alembic.runtime.migration"
MIGRATION_STEPS_LOGGER = "chatdesk.migration.steps"
"""A long revision logs what it is doing on this logger (INFO, a few words each step);
the window shows it after the revision's name. Migrations stay free of the monitor."""


class Stage(Enum):
    """The steps of an upgrade, in order."""

    CHECKING = "checking"
    BACKING_UP = "backing up"
    MIGRATING = "migrating"


@dataclass(frozen=True)
class UpgradeStep:
    """One report: the stage, words for a person, and progress when it is known.

    Attributes:
        stage: which part of the upgrade is running.
        text: what is happening, e.g. "Backing up: 120 MB of 921 MB".
        done: units done so far (bytes while backing up, revisions while migrating).
        total: units in all; 0 when unknown (show a busy indicator).
    """

    stage: Stage
    text: str
    done: int = 0
    total: int = 0


class UpgradeMonitor:
    """Hears how an upgrade goes (``report``, on the working thread) and can stop it.

    ``request_stop`` may be called from any thread.
    """

    def __init__(self, report: Callable[[UpgradeStep], None] | None = None) -> None:
        self._report = report
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise ``UpgradeCancelled`` if a stop was requested."""
        if self._stop.is_set():
            raise UpgradeCancelled("The upgrade was stopped; the database was left as it was.")

    def report(self, step: UpgradeStep) -> None:
        if self._report is not None:
            self._report(step)

    def on_backup_progress(self, done: int, total: int) -> None:
        """The backup's progress callback: report, and stop the copy if asked."""
        self.report(
            UpgradeStep(
                Stage.BACKING_UP,
                f"Backing up: {_megabytes(done)} of {_megabytes(total)}",
                done,
                total,
            )
        )
        self.check()


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB"


class _RevisionReporter(logging.Handler):
    """Turns Alembic's "Running upgrade" records into reports naming the revision."""

    def __init__(self, monitor: UpgradeMonitor, pending: Sequence[str]) -> None:
        super().__init__(logging.INFO)
        self._monitor = monitor
        self._pending = list(pending)
        self.current: UpgradeStep | None = None
        """The revision running now, as last reported."""

    def emit(self, record: logging.LogRecord) -> None:
        # The record's argument is Alembic's RevisionStep; read it defensively, as a
        # changed Alembic must cost only the step names, never the upgrade.
        step = record.args[0] if isinstance(record.args, tuple) and record.args else None
        script = getattr(step, "revision", None)
        revision = getattr(script, "revision", None)
        if not isinstance(revision, str) or getattr(step, "is_upgrade", False) is not True:
            return
        doc = str(getattr(script, "doc", "") or "").strip().splitlines()
        name = doc[0].rstrip(".") if doc else f"revision {revision}"
        done = self._pending.index(revision) if revision in self._pending else 0
        total = len(self._pending)
        self.current = UpgradeStep(
            Stage.MIGRATING, f"Upgrading ({done + 1} of {total}): {name}", done, total
        )
        self._monitor.report(self.current)


class _StepReporter(logging.Handler):
    """Turns a revision's own step records into reports: "<revision> — <step>"."""

    def __init__(self, monitor: UpgradeMonitor, revisions: _RevisionReporter) -> None:
        super().__init__(logging.INFO)
        self._monitor = monitor
        self._revisions = revisions

    def emit(self, record: logging.LogRecord) -> None:
        current = self._revisions.current
        if current is not None:
            text = f"{current.text} — {record.getMessage()}"
            self._monitor.report(UpgradeStep(Stage.MIGRATING, text, current.done, current.total))


@contextmanager
def watching_migrations(
    connection: Connection, monitor: UpgradeMonitor, pending: Sequence[str]
) -> Iterator[None]:
    """While migrations run on ``connection``: report each revision, honour a stop.

    A stop makes the next statement raise (SQLAlchemy's ``before_cursor_execute``) and,
    on SQLite, the running one fail with "interrupted" (a progress handler that answers
    once, so the rollback that follows is never interrupted itself).
    """

    def before_statement(*_args: Any) -> None:
        monitor.check()

    event.listen(connection, "before_cursor_execute", before_statement)
    raw = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
    interrupted = threading.Event()

    def interrupt_once() -> bool:
        if monitor.stop_requested and not interrupted.is_set():
            interrupted.set()
            return True
        return False

    if raw is not None:
        raw.set_progress_handler(interrupt_once, SQLITE_CHECK_EVERY_OPS)
    runner_log = logging.getLogger(ALEMBIC_RUNNER_LOGGER)
    steps_log = logging.getLogger(MIGRATION_STEPS_LOGGER)
    reporter = _RevisionReporter(monitor, pending)
    step_reporter = _StepReporter(monitor, reporter)
    previous_levels = runner_log.level, steps_log.level
    for log in (runner_log, steps_log):
        if not log.isEnabledFor(logging.INFO):
            log.setLevel(logging.INFO)
    runner_log.addHandler(reporter)
    steps_log.addHandler(step_reporter)
    try:
        yield
    finally:
        runner_log.removeHandler(reporter)
        steps_log.removeHandler(step_reporter)
        runner_log.setLevel(previous_levels[0])
        steps_log.setLevel(previous_levels[1])
        if raw is not None:
            raw.set_progress_handler(None, 0)
        event.remove(connection, "before_cursor_execute", before_statement)
