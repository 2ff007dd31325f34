"""Engines and sessions with the settings every chatdesk connection needs.

SQLite: foreign keys on (SQLite ships them off), WAL so readers never block the single
writer, ``synchronous=FULL`` so a committed word survives power loss, a busy timeout,
and ``BEGIN IMMEDIATE`` so a transaction that reads then writes cannot fail with
SQLITE_BUSY half way. A session that only reads (``READ_ONLY`` in its connection's
execution options, as ``UnitOfWork.read`` sets) begins deferred instead: under WAL it
reads a snapshot beside the writer, so a search or an export never holds up a send.
pysqlite's own transaction handling is switched off (SQLAlchemy's "transactional DDL"
recipe), which also makes migrations atomic. The file is created 0600 before SQLite
touches it; ``-wal``/``-shm`` inherit that mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from chatdesk.config import PRIVATE_FILE_MODE, ensure_private_dir, make_private

BUSY_TIMEOUT_MS = 5000
READ_ONLY = "chatdesk_read_only"
"""Execution option of a connection whose transaction only reads (a deferred BEGIN)."""
BUSY_TIMEOUT = "chatdesk_busy_timeout_ms"
"""Execution option: how long this connection's BEGIN may wait for the write lock (ms)."""


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser().absolute()


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (then tighten its mode).

    An existing file only loses group and other permissions: a database the person
    made read-only is never made writable again.
    """
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE)
    except FileExistsError:
        make_private(path)
        return
    os.close(fd)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        busy_ms = int(options.get(BUSY_TIMEOUT, BUSY_TIMEOUT_MS))
        connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_ms}")
        connection.exec_driver_sql("BEGIN" if options.get(READ_ONLY) else "BEGIN IMMEDIATE")


def create_store_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for the chatdesk database at ``url``."""
    path = sqlite_path(url)
    if path is not None:
        create_private_file(path)
    engine = create_engine(
        url, echo=echo, pool_pre_ping=make_url(url).get_backend_name() != "sqlite"
    )
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (services return plain records)."""
    return sessionmaker(engine, expire_on_commit=False)
