"""Before chatdesk upgrades a PostgreSQL database it dumps it, or says it could not.

A database one revision old is upgraded: with ``pg_dump`` on PATH a custom-format dump
(0600, readable by ``pg_restore``) is left in the backups; without one, or with one
too old for the server, or one that fails, ``BackupUnavailableError`` says so and the
database stays at its old revision until the person agrees to go on without a backup.
The window asks (Quit changes nothing); a command refuses unless
``CHATDESK_UPGRADE_WITHOUT_BACKUP=1``.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from chatdesk.store.connection import create_store_engine
from chatdesk.store.errors import BackupUnavailableError
from chatdesk.store.migrate import downgrade, open_store
from chatdesk.store.schema import HEAD_REVISION
from chatdesk.testing import OFFSCREEN_NOISE
from tests.support.dialogs import answering_dialogs

pytestmark = pytest.mark.postgres
OLD = "0010"


@pytest.fixture
def old_db(postgres_server: object | None, postgres_at_head: str) -> Iterator[str]:
    """A database one revision behind head."""
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    server: Any = postgres_server
    name = f"old_{uuid.uuid4().hex[:10]}"
    url: str = server.create_database(name, template=postgres_at_head)
    downgrade(create_store_engine(url), OLD)
    yield url
    server.drop_database(name)


def _revision(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        engine.dispose()


def _fake_pg_dump(directory: Path, script: str) -> None:
    directory.mkdir()
    program = directory / "pg_dump"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)


def test_an_upgrade_leaves_a_private_dump_behind(old_db: str, tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed here")
    backups = tmp_path / "backups"
    store = open_store(old_db, backup_dir=backups)
    store.close()
    assert store.backup is not None and store.backup.parent == backups
    assert store.backup.name.endswith(f"-before-{HEAD_REVISION}.dump")
    assert stat.S_IMODE(store.backup.stat().st_mode) == 0o600
    listed = subprocess.run(
        ["pg_restore", "--list", str(store.backup)], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE public messages" in listed
    assert not list(backups.glob("*.partial"))
    assert _revision(old_db) == HEAD_REVISION


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (None, "pg_dump (PostgreSQL's backup program) is not installed"),
        ('echo "pg_dump (PostgreSQL) 9.6"', "cannot back up a PostgreSQL"),
        (
            'case "$1" in --version) echo "pg_dump (PostgreSQL) 99";; '
            "*) echo 'pg_dump: error: disk quota exceeded' >&2; exit 1;; esac",
            "pg_dump failed (pg_dump: error: disk quota exceeded)",
        ),
    ],
    ids=["missing", "too-old", "failing"],
)
def test_no_backup_means_no_upgrade_until_agreed(
    old_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str | None, said: str
) -> None:
    bin_dir = tmp_path / "bin"
    if script is None:
        bin_dir.mkdir()
    else:
        _fake_pg_dump(bin_dir, script)
    monkeypatch.setenv("PATH", str(bin_dir))
    backups = tmp_path / "backups"
    with pytest.raises(BackupUnavailableError) as refused:
        open_store(old_db, backup_dir=backups)
    assert said in str(refused.value) and "No backup was made" in str(refused.value)
    assert _revision(old_db) == OLD
    assert not backups.exists() or not any(backups.iterdir())
    store = open_store(old_db, backup_dir=backups, without_backup=True)
    store.close()
    assert store.backup is None and _revision(old_db) == HEAD_REVISION


@pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
def test_the_window_asks_before_upgrading_without_a_backup(
    qapp: object, old_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatdesk.app import _open_store_or_explain

    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump there
    with answering_dialogs("startupDecline") as asked:
        assert _open_store_or_explain(old_db, tmp_path / "backups") is None
    assert asked[0].startswith("startupQuestion:") and "No backup was made" in asked[0]
    assert _revision(old_db) == OLD
    with answering_dialogs("startupAccept"):
        store = _open_store_or_explain(old_db, tmp_path / "backups")
    assert store is not None
    store.close()
    assert _revision(old_db) == HEAD_REVISION


def test_a_command_refuses_unless_told_to_go_without_a_backup(
    old_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatdesk.commands.data_access import DataAccessError, writable_services

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CHATDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHATDESK_DATABASE_URL", old_db)
    monkeypatch.delenv("CHATDESK_UPGRADE_WITHOUT_BACKUP", raising=False)
    with pytest.raises(DataAccessError) as refused, writable_services():
        pass
    assert refused.value.exit_code == 3
    assert "CHATDESK_UPGRADE_WITHOUT_BACKUP=1" in str(refused.value)
    assert _revision(old_db) == OLD
    monkeypatch.setenv("CHATDESK_UPGRADE_WITHOUT_BACKUP", "1")
    with writable_services() as (_services, user_id):
        assert user_id > 0
    assert _revision(old_db) == HEAD_REVISION


def test_stop_during_the_dump_ends_it_and_changes_nothing(
    old_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatdesk.store.errors import UpgradeCancelled
    from chatdesk.store.upgrade_progress import UpgradeMonitor, UpgradeStep

    sleep = shutil.which("sleep")
    assert sleep is not None
    _fake_pg_dump(
        tmp_path / "bin",
        f'case "$1" in --version) echo "pg_dump (PostgreSQL) 99";; *) exec {sleep} 60;; esac',
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monitor: UpgradeMonitor

    def report(step: UpgradeStep) -> None:
        if step.text == "Backing up with pg_dump":
            monitor.request_stop()  # as the window's Stop would, while pg_dump runs

    monitor = UpgradeMonitor(report)
    backups = tmp_path / "backups"
    with pytest.raises(UpgradeCancelled):
        open_store(old_db, backup_dir=backups, monitor=monitor)
    assert not any(backups.iterdir())
    assert _revision(old_db) == OLD
