"""Clients starting together on one empty PostgreSQL database never collide.

Before the migration lock, two clients both saw no tables and both ran ``CREATE TABLE
alembic_version``: one died with a duplicate-key error. Here three real processes
(two app start-ups through ``open_store``, one ``alembic upgrade head`` as an
administrator runs it) import everything, wait at one start line, then migrate the
same fresh database: all succeed, and the schema is at head once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from chatdesk.store.schema import HEAD_REVISION
from tests.support.processes import die_with_parent

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
_WAIT = (
    "import pathlib, sys, time\n"
    "import psycopg, alembic.command, alembic.config, chatdesk.services, chatdesk.store.migrate\n"
    "print('ready', flush=True)\n"
    "go = pathlib.Path(sys.argv[1])\n"
    "while not go.exists(): time.sleep(0.001)\n"
)
APP_START = _WAIT + (
    "from chatdesk.store.migrate import open_store\n"
    "from chatdesk.services import Services\n"
    "store = open_store(sys.argv[2])\n"
    "Services(store).users.ensure()\n"
    "store.close()\n"
)
ALEMBIC = _WAIT + (
    "from alembic.config import main\nmain(['-c', sys.argv[3], 'upgrade', 'head'])\n"
)


@pytest.fixture
def empty_db(postgres_server: object | None) -> Iterator[str]:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    server: Any = postgres_server
    name = f"race_{uuid.uuid4().hex[:10]}"
    url: str = server.create_database(name)
    yield url
    server.drop_database(name)


def test_clients_starting_together_migrate_once(empty_db: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "CHATDESK_DATABASE_URL": empty_db, "CHATDESK_DATA_DIR": str(tmp_path)}
    args = [str(go), empty_db, str(ROOT / "alembic.ini")]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        for script in (APP_START, APP_START, ALEMBIC)
    ]
    try:
        for child in children:  # every one imported and waiting at the line
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        go.touch()
        results = [child.communicate(timeout=300) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err[-2000:]
    engine = create_engine(empty_db)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            users = connection.execute(text("SELECT count(*) FROM users")).scalar()
    finally:
        engine.dispose()
    assert versions == [(HEAD_REVISION,)]
    assert users == 1


def test_a_client_waiting_for_the_lock_says_so_and_can_stop(empty_db: str) -> None:
    """While another client holds the lock, the upgrade window hears why it waits; Stop
    ends the wait with nothing changed."""
    import threading

    from chatdesk.store import migration_lock
    from chatdesk.store.errors import UpgradeCancelled
    from chatdesk.store.migrate import open_store
    from chatdesk.store.upgrade_progress import UpgradeMonitor, UpgradeStep

    holder = create_engine(empty_db)
    heard = threading.Event()
    steps: list[str] = []

    def report(step: UpgradeStep) -> None:
        steps.append(step.text)
        if "Waiting for another chatdesk" in step.text:
            heard.set()

    monitor = UpgradeMonitor(report)
    outcome: list[BaseException] = []

    def start_up() -> None:
        try:
            open_store(empty_db, monitor=monitor).close()
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    try:
        with holder.connect() as connection:
            migration_lock.take(connection)
            waiter = threading.Thread(target=start_up)
            waiter.start()
            assert heard.wait(60), steps
            monitor.request_stop()
            waiter.join(60)
            migration_lock.release(connection)
        assert len(outcome) == 1 and isinstance(outcome[0], UpgradeCancelled)
        with holder.connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar()
        assert tables == 0
    finally:
        holder.dispose()
