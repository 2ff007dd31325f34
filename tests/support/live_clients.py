"""Two chatdesk clients in one test process, sharing one PostgreSQL database: each with
its own store (connection pool), change bus, run owner and ``LiveSync``."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from chatdesk.services import Services
from chatdesk.services.events import Change
from chatdesk.services.live_sync import LiveSync
from chatdesk.services.run_owner import RunOwner, this_process
from chatdesk.store.migrate import open_store


class Heard:
    """A bus listener that may be called from the listening thread; tests wait on it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.changes: list[Change] = []
        self.at: list[float] = []  # time.perf_counter() of each

    def on_change(self, change: Change) -> None:
        with self._cond:
            self.changes.append(change)
            self.at.append(time.perf_counter())
            self._cond.notify_all()

    def wait_for(self, found: Callable[[Change], bool], timeout_s: float = 10.0) -> Change:
        """The first change heard (so far or later) that ``found`` accepts."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for change in self.changes:
                    if found(change):
                        return change
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not heard within {timeout_s} s: {self.changes!r}")
                self._cond.wait(left)

    def has(self, found: Callable[[Change], bool]) -> bool:
        """Whether a change ``found`` accepts was heard (for ``qtbot.waitUntil`` when
        the bus delivers on the GUI thread, which ``wait_for`` would block)."""
        with self._cond:
            return any(found(change) for change in self.changes)

    def clear(self) -> None:
        with self._cond:
            self.changes.clear()
            self.at.clear()


@dataclasses.dataclass
class Client:
    services: Services
    live: LiveSync
    heard: Heard
    owner: RunOwner

    def wait_online(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.live.online is not True:
            assert time.monotonic() < deadline, "the listener never connected"
            time.sleep(0.01)


def another_owner() -> RunOwner:
    """A client id of its own for a second client in this process."""
    return dataclasses.replace(this_process(), token=secrets.token_hex(8))


@contextmanager
def live_client(url: str, data: Path, *, listen: bool = True) -> Iterator[Client]:
    """One client on ``url``, listening once ``listen``; closed at the end."""
    store = open_store(url, backup_dir=data / "backups")
    owner = another_owner()
    services = Services(store, owner=owner, attachments_dir=data / "attachments")
    heard = Heard()
    services.bus.subscribe(heard)
    live = LiveSync(store, services.bus, owner)
    try:
        if listen:
            live.start()
        yield Client(services, live, heard, owner)
    finally:
        live.stop()
        store.close()
