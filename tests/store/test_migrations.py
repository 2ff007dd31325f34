"""Migrations: linear history, no drift, up and down on populated data, refusal of newer
databases, backups and private files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from chatdesk.services import Services
from chatdesk.store.backup import backup_sqlite, list_backups, restore_backup
from chatdesk.store.connection import create_store_engine
from chatdesk.store.errors import (
    DamagedDatabaseError,
    DatabaseTooNewError,
    MigrationFailedError,
    NotAChatdeskDatabaseError,
)
from chatdesk.store.migrate import alembic_config, downgrade, open_store, upgrade
from chatdesk.store.models import Execution, ExecutionLog, Message, Thread
from chatdesk.store.schema import HEAD_REVISION

REPO = Path(__file__).resolve().parents[2]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _populate(services: Services) -> dict[str, int]:
    user = services.users.ensure()
    for t in range(3):
        thread = services.threads.create(user, f"thread {t}")
        for m in range(4):
            sent = services.messages.send(user, thread.id, f"message {m}")
            assert sent.execution is not None
            services.messages.add_reply(user, thread.id, sent.execution.id, f"reply {m}")
            with services.store.session_factory.begin() as session:
                session.add(ExecutionLog(execution_id=sent.execution.id, seq=0, event="x"))
    return _counts(services)


def _counts(services: Services) -> dict[str, int]:
    with services.store.session_factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Thread, Message, Execution, ExecutionLog)
        }


def test_history_is_linear_and_head_matches_the_code() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [HEAD_REVISION]
    for script in scripts.walk_revisions():
        assert not script.is_merge_point, script.revision
        assert not script.is_branch_point, script.revision


def test_models_and_migrations_agree(services: Services) -> None:
    """``alembic check`` finds no drift on each database kind."""
    config = alembic_config()
    with services.store.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.check(config)


def test_downgrade_to_base_and_back_on_a_populated_database(services: Services) -> None:
    assert _populate(services)["messages"] == 24
    engine = services.store.engine
    upgrade_down = alembic_config()
    with engine.connect() as connection:
        upgrade_down.attributes["connection"] = connection
        command.downgrade(upgrade_down, "base")
        connection.commit()
    engine.dispose()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == []
    upgrade(engine)
    fresh = Services(services.store)
    user = fresh.users.ensure()
    thread = fresh.threads.create(user, "after")
    fresh.messages.send(user, thread.id, "works again")
    assert _counts(fresh)["messages"] == 1


def test_alembic_command_line_honours_the_database_url(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    env = {**os.environ, "CHATDESK_DATABASE_URL": f"sqlite:///{db}"}
    for args in (["upgrade", "head"], ["check"], ["downgrade", "base"], ["upgrade", "head"]):
        done = subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (
            HEAD_REVISION,
        )
    assert db.stat().st_mode & 0o777 == 0o600


def test_a_newer_database_is_refused_and_left_byte_for_byte(tmp_path: Path) -> None:
    db = tmp_path / "newer.db"
    url = f"sqlite:///{db}"
    open_store(url).close()
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'from_the_future'")
    connection.close()
    before = _digest(db)
    siblings = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(DatabaseTooNewError, match="newer version of chatdesk"):
        open_store(url, backup_dir=tmp_path / "backups")
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings


def test_a_newer_postgresql_database_is_refused(db_url: str) -> None:
    open_store(db_url).close()
    engine = create_store_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    with pytest.raises(DatabaseTooNewError):
        open_store(db_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "from_the_future"
        )
    engine.dispose()


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    connection.close()
    before = _digest(db)
    with pytest.raises(NotAChatdeskDatabaseError, match="no chatdesk schema"):
        open_store(f"sqlite:///{db}")
    assert _digest(db) == before


def test_a_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a database at all" * 100)
    before = _digest(db)
    with pytest.raises(DamagedDatabaseError, match="damaged"):
        open_store(f"sqlite:///{db}")
    assert _digest(db) == before


def test_backups_are_consistent_private_and_pruned(tmp_path: Path) -> None:
    services = Services(open_store(f"sqlite:///{tmp_path / 'live.db'}"))
    counts = _populate(services)
    source = Path(str(services.store.engine.url.database))
    backups = tmp_path / "bk"
    backups.mkdir(mode=0o700)
    made = [backup_sqlite(source, backups, label=f"n{i}", keep=3) for i in range(5)]
    kept = list_backups(backups)
    assert kept == sorted(made[-3:], reverse=True)
    for path in kept:
        assert path.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(kept[0]) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT count(*) FROM messages").fetchone() == (counts["messages"],)
    copy.close()
    services.store.close()


def test_database_and_its_journal_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    from chatdesk.config import data_dir

    os.environ["CHATDESK_DATA_DIR"] = str(data)
    directory = data_dir()
    assert directory.stat().st_mode & 0o777 == 0o700
    db = directory / "chatdesk.db"
    store = open_store(f"sqlite:///{db}")
    services = Services(store)
    services.threads.create(services.users.ensure())
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        assert path.exists(), suffix
        assert path.stat().st_mode & 0o777 == 0o600, suffix
    store.close()


def test_loose_data_directory_is_tightened(tmp_path: Path) -> None:
    from chatdesk.config import data_dir

    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    os.environ["CHATDESK_DATA_DIR"] = str(loose)
    assert data_dir().stat().st_mode & 0o777 == 0o700


def test_sqlite_connections_enforce_foreign_keys_after_migrating(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'fk.db'}")
    for _ in range(3):
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    store.close()


def _populated_at(url: str, revision: str) -> dict[str, int]:
    """A database holding chats, left at an older ``revision``; its row counts.

    Filled by today's services at head, then migrated down: the models describe only
    the head schema, so they cannot write an older one directly.
    """
    store = open_store(url)
    counts = _populate(Services(store))
    store.close()
    downgrade(create_store_engine(url), revision)
    return counts


def _older_revisions() -> list[str]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return sorted(s.revision for s in scripts.walk_revisions() if s.revision != HEAD_REVISION)


@pytest.mark.parametrize("revision", _older_revisions())
def test_an_older_database_is_backed_up_then_upgraded_with_its_data(
    db_url: str, tmp_path: Path, revision: str
) -> None:
    counts = _populated_at(db_url, revision)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    store = open_store(db_url, backup_dir=backups)
    services = Services(store)
    assert _counts(services) == counts
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            HEAD_REVISION
        )
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    user = services.users.ensure()
    assert len(services.search.search(user, "message")) == 12  # old rows are indexed
    if store.engine.dialect.name == "sqlite":
        assert store.backup is not None and store.backup.parent == backups
        assert store.backup.stat().st_mode & 0o777 == 0o600
        with sqlite3.connect(store.backup) as copy:
            assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == (revision,)
            assert copy.execute("SELECT count(*) FROM messages").fetchone() == (counts["messages"],)
        copy.close()
    store.close()


def test_a_damaged_database_can_be_restored_from_its_backup(tmp_path: Path) -> None:
    db = tmp_path / "chatdesk.db"
    url = f"sqlite:///{db}"
    services = Services(open_store(url))
    counts = _populate(services)
    services.store.close()
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    backup = backup_sqlite(db, backups, label="daily")
    with db.open("r+b") as broken:  # overwrite the header: no longer a SQLite file
        broken.write(b"\x00garbage\x00" * 20)
    damaged_bytes = db.read_bytes()
    with pytest.raises(DamagedDatabaseError) as raised:
        open_store(url, backup_dir=backups)
    assert raised.value.path == str(db)
    assert db.read_bytes() == damaged_bytes  # nothing overwritten silently
    aside = restore_backup(db, backup)
    assert aside.read_bytes() == damaged_bytes  # kept for the person to inspect
    assert db.stat().st_mode & 0o777 == 0o600
    restored = Services(open_store(url))
    assert _counts(restored) == counts
    restored.store.close()


def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "chatdesk.db"
    url = f"sqlite:///{db}"
    counts = _populated_at(url, "0001")
    import alembic.op

    real_create_index = alembic.op.create_index

    def create_index_then_fail(*args: object, **kwargs: object) -> None:
        real_create_index(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("simulated failure half way through a migration")

    monkeypatch.setattr(alembic.op, "create_index", create_index_then_fail)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    with pytest.raises(MigrationFailedError, match="rolled back"):
        open_store(url, backup_dir=backups)
    monkeypatch.undo()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        assert "messages_fts" not in tables  # 0002's work was rolled back too
    connection.close()
    assert len(list_backups(backups)) == 1
    store = open_store(url, backup_dir=backups)  # and it upgrades fine afterwards
    assert _counts(Services(store)) == counts
    store.close()


def test_runs_left_live_before_owners_existed_are_recovered_after_the_upgrade(
    db_url: str,
) -> None:
    """0005 adds ``owner`` and ``lease_expires_at``; older rows have neither."""
    _populated_at(db_url, "0004")
    engine = create_store_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE executions SET status = 'completed'"))
        connection.execute(
            text(
                "UPDATE executions SET status = 'running' "
                "WHERE id = (SELECT min(id) FROM executions)"
            )
        )
    engine.dispose()
    store = open_store(db_url)
    with store.engine.connect() as connection:
        unowned = connection.execute(
            text("SELECT count(*) FROM executions WHERE owner IS NULL AND lease_expires_at IS NULL")
        )
        assert unowned.scalar() == 12
    assert Services(store).executions.recover_interrupted() == 1
    store.close()
