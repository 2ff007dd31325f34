"""``python -m chatdesk.bench.trees``: what conversation trees cost.

Prints the JSON lines of :mod:`chatdesk.bench`:

* ``open_branchy_thread_ms``: median time to read the newest page of a 100,000-message
  thread with a branch point every 20 messages (5,000 of them), with
  ``linear_ms`` (the same for a thread without branches) and their ``ratio``;
* ``version_switch_ms``: median time from flipping a reply's version, in a real window,
  to the list painted again, with 10,000 messages below each version (the write, the
  walk down to the new leaf, the new page, the repaint);
* ``tree_migration_s`` (with ``--migrate DB``): revision 0007 run on a copy of a
  history at revision 0006 (made by migrating the copy down), as the upgrade window
  runs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, update

from chatdesk.bench.probe import emit

BRANCH_EVERY = 20
OPEN_RUNS = 21
SWITCH_RUNS = 11
SETTLE_S = 0.3
"""Between flips: the window stores the path's new end 0.1 s after a flip."""


def _rows(
    thread_id: int, first_id: int, count: int, parent: int | None, start: datetime
) -> list[dict[str, Any]]:
    """A line of ``count`` messages (ids from ``first_id``) below ``parent``."""
    rows: list[dict[str, Any]] = []
    for i in range(count):
        moment = start + timedelta(seconds=i)
        rows.append(
            {
                "id": first_id + i,
                "parent_id": first_id + i - 1 if i else parent,
                "thread_id": thread_id,
                "user_id": 1,
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"message {i} of a long conversation about trees and their versions",
                "status": "completed",
                "triggers_execution": False,
                "metadata": {},
                "created_at": moment,
                "updated_at": moment,
                "chosen_at": moment,
            }
        )
    return rows


def build(url: str, messages: int, below: int) -> dict[str, int]:
    """Three threads: linear, branchy (a version beside every 20th message) and a
    question with two replies, each with ``below`` messages under it. Returns the
    ids the bench needs."""
    from chatdesk.store.migrate import open_store
    from chatdesk.store.models import Message, Thread, User

    store = open_store(url)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with store.engine.begin() as connection:
        connection.execute(insert(User).values(id=1, name="local"))
        connection.execute(
            insert(Thread),
            [
                {"id": n, "user_id": 1, "title": title}
                for n, title in ((1, "linear"), (2, "branchy"), (3, "flip"))
            ],
        )
        table = Message.__table__
        assert isinstance(table, Table)
        linear = _rows(1, 1, messages, None, start)
        branchy = _rows(2, messages + 1, messages, None, start)
        extra_id = 2 * messages + 1
        versions = []
        for row in branchy[1::BRANCH_EVERY]:  # an earlier version beside it, not chosen
            versions.append({**row, "id": extra_id, "chosen_at": start - timedelta(days=1)})
            extra_id += 1
        question = _rows(3, extra_id, 1, None, start)
        first = _rows(3, extra_id + 1, below + 1, extra_id, start)
        second = _rows(3, extra_id + below + 2, below + 1, extra_id, start + timedelta(hours=1))
        for rows in (linear, branchy, versions, question, first, second):
            for chunk in range(0, len(rows), 5000):
                connection.execute(insert(table), rows[chunk : chunk + 5000])
        for thread_id, leaf in (
            (1, linear[-1]["id"]),
            (2, branchy[-1]["id"]),
            (3, second[-1]["id"]),
        ):
            connection.execute(
                update(Thread).where(Thread.id == thread_id).values(current_leaf_id=leaf)
            )
    store.close()
    return {"first_reply": first[0]["id"], "second_reply": second[0]["id"]}


def _median_ms(action: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_open(url: str) -> None:
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store

    services = Services(open_store(url))
    linear = _median_ms(lambda: services.messages.list(1, 1), OPEN_RUNS)
    branchy = _median_ms(lambda: services.messages.list(1, 2), OPEN_RUNS)
    page = services.messages.list(1, 2).messages
    assert any(m.version and m.version.count == 2 for m in page)  # branch points on it
    services.store.close()
    emit(
        "open_branchy_thread_ms",
        branchy,
        "ms",
        linear_ms=round(linear, 3),
        ratio=round(branchy / linear, 2),
    )


def bench_switch(url: str, ids: dict[str, int], below: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from chatdesk.bench.probe import PaintWatcher, wait_until
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store
    from chatdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    services = Services(open_store(url))
    window = MainWindow(services, 1)
    window.resize(1000, 700)
    window.show()
    window.on_thread_selected(3)
    view = window.message_view
    watcher = PaintWatcher(view.viewport())
    wait_until(app, lambda: window.message_model.rowCount() > 0)
    times = []
    first = 0.0
    shown = ids["second_reply"]
    for run in range(SWITCH_RUNS):
        step = -1 if shown == ids["second_reply"] else 1
        row = window.message_model.load_around(shown)  # scrolled back to the question
        assert row is not None
        view.scrollTo(window.message_model.index(row))
        app.processEvents()
        watcher.reset()
        started = time.perf_counter()
        assert view.version_switcher.flip(shown, step)
        wait_until(app, lambda: watcher.painted_at is not None, timeout_s=10)
        assert watcher.painted_at is not None
        took = (watcher.painted_at - started) * 1000
        if run:  # the first flip warms caches (told apart: a person's first flip is one)
            times.append(took)
        else:
            first = took
        _pause(app, SETTLE_S)  # a person flips again seconds later, after the end is stored
        shown = ids["first_reply"] if shown == ids["second_reply"] else ids["second_reply"]
    window.close()
    services.store.close()
    emit(
        "version_switch_ms",
        statistics.median(times),
        "ms",
        below=below,
        max=round(max(times), 3),
        first_ms=round(first, 3),
    )


def _pause(app: Any, seconds: float) -> None:
    """Let the window's event loop run for ``seconds``."""
    from chatdesk.bench.probe import wait_until

    deadline = time.perf_counter() + seconds
    wait_until(app, lambda: time.perf_counter() > deadline)


def bench_tree_migration(database: Path) -> None:
    """Time revision 0007 on a copy of ``database`` taken back to revision 0006."""
    from chatdesk.store.connection import create_store_engine
    from chatdesk.store.migrate import downgrade, upgrade

    with tempfile.TemporaryDirectory(prefix="chatdesk-tree-migration-") as directory:
        copy = Path(directory) / "chatdesk.db"
        shutil.copyfile(database, copy)
        url = f"sqlite:///{copy}"
        downgrade(create_store_engine(url), "0006")
        engine = create_store_engine(url)
        started = time.perf_counter()
        upgrade(engine)
        emit(
            "tree_migration_s",
            time.perf_counter() - started,
            "s",
            db_mb=round(copy.stat().st_size / 1e6),
        )
        engine.dispose()


def bench_trees(messages: int = 100_000, below: int = 10_000, migrate: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="chatdesk-trees-") as directory:
        url = f"sqlite:///{Path(directory) / 'chatdesk.db'}"
        ids = build(url, messages, below)
        bench_open(url)
        bench_switch(url, ids, below)
    if migrate is not None:
        bench_tree_migration(migrate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatdesk.bench.trees", description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--below", type=int, default=10_000)
    parser.add_argument("--migrate", type=Path, help="a chatdesk database to time 0007 on (a copy)")
    args = parser.parse_args(argv)
    bench_trees(args.messages, args.below, args.migrate)


if __name__ == "__main__":
    main()
