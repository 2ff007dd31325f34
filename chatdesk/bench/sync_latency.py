"""``python -m chatdesk.bench.sync_latency``: how soon one desktop hears another's write.

Two clients share one PostgreSQL database (each its own store, connection pool, change
bus and client id; client B listens with ``services.live_sync``). Client A sends
messages one at a time; each is timed from just before A's ``send()`` until B's bus
delivers the ``Change`` announcing it (B has read the row again by then). Prints the
JSON lines of :mod:`chatdesk.bench`: ``sync_latency_ms`` (p95; p50 and max beside it),
then ``sync_window_ms``: the same until B's real window (offscreen, the chat open) has
the message in its list, through the Qt event loop as the app delivers it. The issue's
target is 500 ms.

``--database-url postgresql+psycopg://...`` uses that server's database (it is migrated
to head; the bench adds a chat of its own); without it a throwaway server is started
(``chatdesk.bench.throwaway_pg``) and removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from chatdesk.bench.probe import emit
from chatdesk.services import Services
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.live_sync import LiveSync
from chatdesk.services.run_owner import RunOwner, this_process
from chatdesk.store.migrate import open_store

TARGET_MS = 500.0
WAIT_S = 10.0


class _Arrivals:
    """B's bus listener: when each message's creation was delivered."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.at: dict[int, float] = {}

    def on_change(self, change: Change) -> None:
        if change.entity is Entity.MESSAGE and change.kind is ChangeKind.CREATED:
            with self._cond:
                self.at[change.id] = time.perf_counter()
                self._cond.notify_all()

    def wait(self, message_id: int) -> float:
        deadline = time.monotonic() + WAIT_S
        with self._cond:
            while message_id not in self.at:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"client B never heard of message {message_id}")
                self._cond.wait(left)
            return self.at[message_id]


def _owner() -> RunOwner:
    return dataclasses.replace(this_process(), token=secrets.token_hex(8))


def measure(url: str, samples: int, folder: Path) -> list[float]:
    """Milliseconds from A's write to B's delivery, one per message."""
    a_store = open_store(url, backup_dir=folder / "backups")
    b_store = open_store(url, backup_dir=folder / "backups")
    b_owner = _owner()
    a = Services(a_store, owner=_owner(), attachments_dir=folder / "a")
    b = Services(b_store, owner=b_owner, attachments_dir=folder / "b")
    arrivals = _Arrivals()
    b.bus.subscribe(arrivals)
    live = LiveSync(b_store, b.bus, b_owner)
    live.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while live.online is not True:
            if time.monotonic() > deadline:
                raise TimeoutError("client B could not listen")
            time.sleep(0.01)
        user = a.users.ensure()
        thread = a.threads.create(user, title="sync latency bench")
        latencies = []
        for index in range(samples):
            started = time.perf_counter()
            sent = a.messages.send(user, thread.id, f"ping {index}", triggers_execution=False)
            latencies.append((arrivals.wait(sent.message.id) - started) * 1000)
        return latencies
    finally:
        live.stop()
        a_store.close()
        b_store.close()


def measure_window(url: str, samples: int, folder: Path) -> list[float]:
    """Milliseconds from A's write until B's window (a real ``MainWindow`` with the chat
    open, its bus delivering on the GUI thread) has the message in its list."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with _data_dir(folder / "window-data"):  # the window's settings go there, not home
        return _measure_window(url, samples, folder)


@contextlib.contextmanager
def _data_dir(path: Path) -> Iterator[None]:
    import os

    old = os.environ.get("CHATDESK_DATA_DIR")
    os.environ["CHATDESK_DATA_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["CHATDESK_DATA_DIR"]
        else:
            os.environ["CHATDESK_DATA_DIR"] = old


def _measure_window(url: str, samples: int, folder: Path) -> list[float]:
    import sys

    from PySide6.QtWidgets import QApplication

    from chatdesk.bench.probe import wait_until
    from chatdesk.ui.bridge import SyncState
    from chatdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    a_store = open_store(url, backup_dir=folder / "backups")
    b_store = open_store(url, backup_dir=folder / "backups")
    b_owner = _owner()
    a = Services(a_store, owner=_owner(), attachments_dir=folder / "a")
    b = Services(b_store, owner=b_owner, attachments_dir=folder / "b")
    user = a.users.ensure()
    thread = a.threads.create(user, title="sync latency bench (window)")
    window = MainWindow(b, b.users.ensure())
    live = LiveSync(b_store, b.bus, b_owner)
    state = SyncState(window)
    live.on_state(state.report)
    live.start()
    try:
        window.show()
        window.on_thread_selected(thread.id)
        if not wait_until(app, lambda: live.online is True, WAIT_S):
            raise TimeoutError("client B could not listen")
        model = window.message_model
        latencies = []
        for index in range(samples):
            started = time.perf_counter()
            sent = a.messages.send(user, thread.id, f"ping {index}", triggers_execution=False)
            new = sent.message.id
            if not wait_until(app, lambda new=new: model.row_of(new) is not None, WAIT_S):
                raise TimeoutError(f"B's window never showed message {new}")
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        live.stop()
        window.shutdown()
        window.close()
        window.deleteLater()
        app.processEvents()
        a_store.close()
        b_store.close()


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def bench_sync_latency(url: str | None, samples: int, *, window: bool = True) -> None:
    """Print ``sync_latency_ms`` (and with ``window`` ``sync_window_ms``) for ``url``, or
    for a throwaway server."""
    with contextlib.ExitStack() as stack:
        if url is None:
            from chatdesk.bench.throwaway_pg import throwaway_postgres

            url = stack.enter_context(throwaway_postgres())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chatdesk-sync-")))
        latencies = measure(url, samples, folder)
        shown = measure_window(url, samples, folder) if window else None
    _emit("sync_latency_ms", latencies)
    if shown is not None:
        _emit("sync_window_ms", shown)


def _emit(metric: str, latencies: list[float]) -> None:
    emit(
        metric,
        _p95(latencies),
        "ms",
        p50=round(statistics.median(latencies), 3),
        max=round(max(latencies), 3),
        samples=len(latencies),
        target=TARGET_MS,
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chatdesk.bench.sync_latency")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a throwaway server)")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--no-window", action="store_true", help="skip sync_window_ms (no Qt window)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    bench_sync_latency(args.database_url, args.samples, window=not args.no_window)


if __name__ == "__main__":
    main()
