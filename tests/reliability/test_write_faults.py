"""Writes that fail say what happened, lose nothing and never freeze the caller.

Faults are real: a second SQLite connection holding ``BEGIN EXCLUSIVE``, a small tmpfs
that fills up, a table that is gone. What a service raises is one ``StorageError`` with
a kind and a message for the person; the failed transaction leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import update

from chatdesk.services import Services
from chatdesk.services.errors import StorageError, StorageFault
from chatdesk.services.patience import patiently
from chatdesk.services.unit_of_work import FOREGROUND_BUSY_TIMEOUT_MS, UnitOfWork
from chatdesk.store.migrate import open_store
from chatdesk.store.models import Thread
from tests.support.faults import hold_exclusive_lock, small_disk, sqlite_file


@pytest.fixture
def sqlite_services(tmp_path: Path) -> Iterator[Services]:
    store = open_store(f"sqlite:///{tmp_path / 'chatdesk.db'}")
    yield Services(store)
    store.close()


def test_a_locked_database_fails_a_send_fast_with_a_clear_busy_error(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    me = services.users.ensure()
    thread = services.threads.create(me, "locked")
    with hold_exclusive_lock(sqlite_file(services)):
        started = time.monotonic()
        with pytest.raises(StorageError) as caught:
            services.messages.send(me, thread.id, "kept?", triggers_execution=False)
        waited = time.monotonic() - started
    assert caught.value.kind is StorageFault.BUSY
    assert "busy" in str(caught.value) and "Nothing was saved" in str(caught.value)
    # one short attempt, not the store's 5 s busy timeout
    assert waited < 10 * FOREGROUND_BUSY_TIMEOUT_MS / 1000
    assert services.messages.list(me, thread.id).messages == []
    services.messages.send(me, thread.id, "after", triggers_execution=False)
    assert [m.content for m in services.messages.list(me, thread.id).messages] == ["after"]


def test_a_background_write_waits_out_a_short_lock(sqlite_services: Services) -> None:
    """Workers keep the long busy timeout: a lock released within it costs no failure."""
    services = sqlite_services
    me = services.users.ensure()
    worker = UnitOfWork(services.store.session_factory, services.bus)
    held = threading.Event()
    release = threading.Event()

    def hold_briefly() -> None:
        with hold_exclusive_lock(sqlite_file(services)):
            held.set()
            release.wait(0.5)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    try:
        assert held.wait(10)
        with worker.write(background=True) as (session, _changes):
            session.add(Thread(user_id=me, title="from a worker"))
    finally:
        release.set()
        holder.join(10)
    assert [t.title for t in services.threads.list(me)] == ["from a worker"]


def test_a_missing_table_is_a_damaged_database_not_a_crash(sqlite_services: Services) -> None:
    services = sqlite_services
    me = services.users.ensure()
    thread = services.threads.create(me, "damaged")
    with sqlite3.connect(sqlite_file(services)) as raw:
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("DROP TABLE messages")
    with pytest.raises(StorageError) as caught:
        services.messages.send(me, thread.id, "into nothing", triggers_execution=False)
    assert caught.value.kind is StorageFault.DAMAGED
    assert "damaged" in str(caught.value) and "no such table: messages" in str(caught.value)


def test_a_full_disk_fails_a_send_with_a_clear_error_and_keeps_everything(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        store = open_store(f"sqlite:///{disk.path / 'chatdesk.db'}")
        try:
            services = Services(store)
            me = services.users.ensure()
            thread = services.threads.create(me, "full")
            services.messages.send(me, thread.id, "before", triggers_execution=False)
            disk.fill()
            with pytest.raises(StorageError) as caught:
                for _ in range(50):  # the WAL may have room for a few pages left
                    services.messages.send(me, thread.id, "x" * 20_000, triggers_execution=False)
            assert caught.value.kind is StorageFault.DISK_FULL
            assert "disk" in str(caught.value) and "full" in str(caught.value)
            disk.free()
            services.messages.send(me, thread.id, "after", triggers_execution=False)
            contents = [m.content for m in services.messages.list(me, thread.id).messages]
            assert contents[0] == "before" and contents[-1] == "after"
        finally:
            store.close()
        with sqlite3.connect(disk.path / "chatdesk.db") as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_row_another_client_holds_fails_a_gui_write_fast_on_every_database(
    services: Services, user_id: int
) -> None:
    """SQLite: the other connection's write lock; PostgreSQL: its lock on the thread row."""
    thread = services.threads.create(user_id, "held")
    engine = services.store.engine
    with engine.connect() as other:  # its transaction begins IMMEDIATE on SQLite
        other.execute(update(Thread).where(Thread.id == thread.id).values(title="theirs"))
        started = time.monotonic()
        with pytest.raises(StorageError) as caught:
            services.threads.rename(user_id, thread.id, "mine")
        waited = time.monotonic() - started
        other.rollback()
    assert caught.value.kind is StorageFault.BUSY
    assert waited < 10 * FOREGROUND_BUSY_TIMEOUT_MS / 1000
    assert services.threads.get(user_id, thread.id).title == "held"


@contextmanager
def _lock_held_for(database: Path, seconds: float) -> Iterator[None]:
    """Another connection takes the write lock now and lets go after ``seconds``."""
    held = threading.Event()

    def hold() -> None:
        with hold_exclusive_lock(database):
            held.set()
            time.sleep(seconds)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        yield
    finally:
        holder.join(30)


def test_patiently_outlasts_a_short_lock_that_fails_a_single_try(
    sqlite_services: Services,
) -> None:
    """Start-up writes (before the window shows) wait out a lock the way the store did."""
    services = sqlite_services
    me = services.users.ensure()
    with _lock_held_for(sqlite_file(services), 0.6):
        with pytest.raises(StorageError):
            services.threads.create(me, "at once")
        created = patiently(lambda: services.threads.create(me, "patiently"))
    assert [t.title for t in services.threads.list(me)] == [created.title]
