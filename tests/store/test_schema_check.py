"""The start-up schema check finds what was dropped, and the repair rebuilds it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.store.errors import DamagedSchemaError
from chatdesk.store.migrate import inspect_sqlite_file, open_store
from chatdesk.store.repair import rebuild_derived_data
from chatdesk.store.schema_check import find_sqlite_damage

REBUILDABLE = {
    "DROP TABLE messages_fts": "messages_fts",
    "DROP TRIGGER messages_fts_insert": "messages_fts_insert",
    "DROP TRIGGER messages_fts_update": "messages_fts_update",
    "DROP INDEX ix_messages_thread_id_id": "ix_messages_thread_id_id",
    "DROP INDEX ix_threads_user_id_updated_at": "ix_threads_user_id_updated_at",
}


def _chat_database(tmp_path: Path) -> tuple[Path, Services, int]:
    db = tmp_path / "chatdesk.db"
    services = Services(open_store(f"sqlite:///{db}"))
    user = services.users.ensure()
    thread = services.threads.create(user, "trip")
    services.messages.send(user, thread.id, "the castle by the river", triggers_execution=False)
    services.store.close()
    return db, services, user


def _damage(db: Path, statement: str) -> None:
    connection = sqlite3.connect(db)
    connection.execute(statement)
    connection.commit()
    connection.close()


def test_a_whole_database_has_no_damage(tmp_path: Path) -> None:
    db, _, _ = _chat_database(tmp_path)
    assert inspect_sqlite_file(db).damage is None


@pytest.mark.parametrize("statement", sorted(REBUILDABLE))
def test_a_dropped_index_or_search_object_is_found_rebuilt_and_search_works(
    tmp_path: Path, statement: str
) -> None:
    db, _, user = _chat_database(tmp_path)
    _damage(db, statement)
    before = db.read_bytes()
    with pytest.raises(DamagedSchemaError) as raised:
        open_store(f"sqlite:///{db}")
    assert raised.value.damage.rebuildable
    assert REBUILDABLE[statement] in str(raised.value)
    assert db.read_bytes() == before  # the check wrote nothing

    backup = rebuild_derived_data(f"sqlite:///{db}", tmp_path / "backups")
    assert backup.exists() and backup.stat().st_mode & 0o777 == 0o600
    store = open_store(f"sqlite:///{db}")
    services = Services(store)
    thread = services.threads.create(user, "after the repair")
    services.messages.send(user, thread.id, "a castle again", triggers_execution=False)
    assert len(services.search.search(user, "castle")) == 2  # the old message and the new
    store.close()


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("DROP TABLE execution_logs", "table execution_logs"),
        ("ALTER TABLE threads DROP COLUMN draft", "column threads.draft"),
        ("DROP TABLE messages_fts_data", "messages_fts_data"),
    ],
)
def test_lost_tables_and_columns_are_damage_no_rebuild_can_undo(
    tmp_path: Path, statement: str, named: str
) -> None:
    db, _, _ = _chat_database(tmp_path)
    _damage(db, statement)
    damage = inspect_sqlite_file(db).damage
    assert damage is not None and not damage.rebuildable
    assert named in damage.describe()


def test_the_check_costs_about_a_millisecond(tmp_path: Path) -> None:
    """One catalog query: the history's size does not enter (measured ~0.5 ms)."""
    import time

    db, _, _ = _chat_database(tmp_path)
    connection = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    find_sqlite_damage(connection)  # models imported once
    started = time.perf_counter()
    for _ in range(20):
        assert find_sqlite_damage(connection) is None
    per_check_ms = (time.perf_counter() - started) * 1000 / 20
    connection.close()
    assert per_check_ms < 20  # generous for a busy machine; measured 0.5 ms


def test_the_check_runs_on_sqlite_and_postgresql_alike(db_url: str) -> None:
    from sqlalchemy import text

    open_store(db_url).close()  # created at head, whole
    store = open_store(db_url)  # checked at head: no damage
    with store.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_messages_thread_id_id"))
    store.close()
    with pytest.raises(DamagedSchemaError) as raised:
        open_store(db_url)
    assert raised.value.damage.missing == ("index ix_messages_thread_id_id",)
