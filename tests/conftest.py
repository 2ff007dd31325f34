"""Shared fixtures: real databases (a SQLite file, and PostgreSQL when it can be started)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.store.migrate import Store, open_store
from tests.support.head_databases import store_at_head
from tests.support.processes import describe, kill_all, live_descendants

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def _garbage_on_the_gui_thread(qapp: object) -> Iterator[None]:
    """Collections only on the main thread, as in the app (``chatdesk.ui.gui_gc``): a
    Qt object of an earlier test, collected on a listener or task thread, warned
    ("Timers cannot be stopped from another thread") or crashed a later test."""
    from chatdesk.ui.gui_gc import GuiThreadCollector

    collector = GuiThreadCollector()
    collector.start()
    yield
    collector.stop()


@pytest.fixture(autouse=True)
def _collect_between_tests() -> Iterator[None]:
    """What is due is collected after each test, on the main thread (a test that never
    spins the Qt loop would otherwise leave its garbage to pile up)."""
    yield
    from chatdesk.ui.gui_gc import collect_due

    collect_due()


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    """A test that leaves a process running fails, and the process is killed."""
    before = live_descendants()
    yield
    stray = live_descendants() - before
    if not stray:
        return
    time.sleep(0.5)  # a child told to quit may still be on its way out
    stray &= live_descendants()
    if stray:
        names = [describe(pid) for pid in sorted(stray)]
        kill_all(stray)
        pytest.fail(f"the test left processes running (now killed): {names}", pytrace=False)


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test ever touches the real user's data, settings or model configuration."""
    data = tmp_path / "data"
    monkeypatch.setenv("CHATDESK_DATA_DIR", str(data))
    for name in (
        "CHATDESK_DATABASE_URL",
        "CHATDESK_LLM_MODEL",
        "CHATDESK_LLM_BASE_URL",
        "CHATDESK_LLM_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    return data


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object | None]:
    """A throwaway PostgreSQL for the session, or None where none can be started.

    On CI (``CI`` set) a missing PostgreSQL is an error, never a silent skip.
    """
    from tests.support.postgres import start_postgres_or_none

    server = start_postgres_or_none()
    if server is None and os.environ.get("CI"):
        pytest.fail("PostgreSQL binaries are required on CI (apt-get install postgresql)")
    yield server
    if server is not None:
        server.stop()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chatdesk.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url: str = server.create_database(name)  # type: ignore[attr-defined]
    yield url
    server.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def sqlite_at_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once a session. A test's store starts as a copy of
    it: running every migration costs ~0.2 s a test, hundreds of times (the migrations
    have tests of their own, on empty and older databases)."""
    path = tmp_path_factory.mktemp("head") / "chatdesk.db"
    open_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture(scope="session")
def postgres_at_head(postgres_server: object | None) -> str | None:
    """A PostgreSQL database migrated to head once a session, the template of a test's."""
    if postgres_server is None:
        return None
    name = f"head_{uuid.uuid4().hex[:12]}"
    open_store(postgres_server.create_database(name)).close()  # type: ignore[attr-defined]
    return name


@pytest.fixture
def store(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An open store at head on each database kind (a copy of the session's)."""
    store_at_head(db_url, request)
    opened = open_store(db_url, backup_dir=tmp_path / "backups")
    yield opened
    opened.close()


@pytest.fixture
def services(store: Store) -> Services:
    return Services(store)


@pytest.fixture
def user_id(services: Services) -> int:
    return services.users.ensure()
