"""Tests for the throwaway PostgreSQL server used by the test suite.

They skip when PostgreSQL is not installed, except under CI (``$CI`` set), where they fail.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from . import postgres
from .postgres import (
    URL_ENV,
    PostgresServer,
    find_postgres_bindir,
    postgres_unavailable_reason,
    skip_or_fail_without_postgres,
    start_postgres_or_none,
)


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A server started by this test, even when $CHATDESK_TEST_POSTGRES_URL is set."""
    skip_or_fail_without_postgres(need_binaries=True)
    monkeypatch.delenv(URL_ENV, raising=False)
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


def _processes_in(path: Path) -> list[int]:
    """Pids of processes whose working directory is inside ``path`` (Linux only).

    Every PostgreSQL backend and auxiliary process works in the data directory.
    """
    found = []
    prefix = str(path)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(prefix):
            found.append(int(entry.name))
    return found


def _port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_lifecycle(own_server: PostgresServer) -> None:
    server = own_server
    url = make_url(server.url)
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "127.0.0.1"
    assert url.database == "chatdesk"
    assert not server.is_external
    assert server.pid is not None and server.port is not None and server.base_dir is not None
    pid, port, base_dir = server.pid, server.port, server.base_dir

    urls = [server.create_database("alpha"), server.create_database("beta")]
    engines = [create_engine(u) for u in urls]
    try:
        for engine, word in zip(engines, ("one", "two"), strict=True):
            with engine.begin() as conn:
                assert conn.scalar(text("SELECT current_database()")) == engine.url.database
                conn.execute(text("CREATE TABLE item (id serial PRIMARY KEY, word text)"))
                conn.execute(text("INSERT INTO item (word) VALUES (:w)"), {"w": word})
                conn.execute(text("INSERT INTO item (word) VALUES ('ü✓')"))  # UTF8 cluster
        for engine, word in zip(engines, ("one", "two"), strict=True):
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT word FROM item ORDER BY id")).scalars().all()
                assert rows == [word, "ü✓"]  # each database has its own table

        # A pooled connection is still open on alpha: dropping must not hang or fail.
        with engines[0].connect() as conn:
            conn.execute(text("SELECT 1"))
        server.drop_database("alpha")
        server.drop_database("alpha")  # IF EXISTS: dropping twice is fine
    finally:
        for engine in engines:
            engine.dispose()
    server.drop_database("beta")

    main = create_engine(server.url)
    try:
        with main.connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database")).scalars().all()
    finally:
        main.dispose()
    assert "alpha" not in names and "beta" not in names and "chatdesk" in names

    assert sys.platform != "linux" or _processes_in(base_dir)  # sanity check of the probe
    server.stop()

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _port_accepts(port)
    assert not base_dir.exists()
    if sys.platform == "linux":
        assert _processes_in(base_dir) == []
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="stopped"):
        server.create_database("gamma")


def test_create_database_without_name_is_unique(own_server: PostgresServer) -> None:
    first = make_url(own_server.create_database()).database
    second = make_url(own_server.create_database()).database
    assert first and second and first != second


def test_existing_server_from_env(
    own_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_url = own_server.url_for("postgres").replace("postgresql+psycopg", "postgresql", 1)
    monkeypatch.setenv(URL_ENV, admin_url)
    assert postgres_unavailable_reason() is None

    shared = PostgresServer.start()
    assert shared.is_external and shared.pid is None and shared.base_dir is None
    assert shared.url == own_server.url_for("postgres")  # driver normalised to psycopg

    kept = own_server.create_database("kept")
    made = shared.create_database("made_by_shared")
    engine = create_engine(made)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT current_database()")) == "made_by_shared"
    finally:
        engine.dispose()

    shared.stop()  # drops what it created, leaves the server and other databases alone
    engine = create_engine(kept)
    try:
        with engine.connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database")).scalars().all()
    finally:
        engine.dispose()
    assert "kept" in names and "made_by_shared" not in names


def test_none_without_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setattr(postgres, "find_postgres_bindir", lambda: None)
    reason = postgres_unavailable_reason()
    assert reason is not None and "not found" in reason
    assert start_postgres_or_none() is None


def test_missing_binaries_skip_locally_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setattr(postgres, "find_postgres_bindir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail_without_postgres()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        skip_or_fail_without_postgres()


def test_bindir_holds_the_server_programs() -> None:
    skip_or_fail_without_postgres(need_binaries=True)
    bindir = find_postgres_bindir()
    assert bindir is not None
    assert (bindir / "initdb").exists() and (bindir / "postgres").exists()
