"""Start-up problems with files: one stderr line, a dialog, exit 2, not a byte changed.

Each test starts the real ``python -m chatdesk`` (offscreen) as a person would. The
read-only cases run it with file modes enforced even under root (see
``tests/support/startup_process.py``). SIGTERM answers the dialog as closing it would.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from chatdesk.app import _open_store_or_explain
from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from chatdesk.testing import OFFSCREEN_NOISE
from tests.support.dialogs import answering_dialogs
from tests.support.startup_process import file_modes_enforced, run_until_line, snapshot

pytestmark = [
    pytest.mark.qt_log_ignore(OFFSCREEN_NOISE),
    pytest.mark.timeout(300),  # real start-ups on a busy 2-core machine
]


def _data_dir_with_history(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    services = Services(open_store(f"sqlite:///{data / 'chatdesk.db'}"))
    user = services.users.ensure()
    thread = services.threads.create(user, "precious")
    services.messages.send(user, thread.id, "the castle by the river", triggers_execution=False)
    services.store.close()
    return data


def _lines_naming(stderr: str, path: Path) -> list[str]:
    return [line for line in stderr.splitlines() if str(path) in line]


def test_a_read_only_database_is_explained_and_left_as_it_was(tmp_path: Path) -> None:
    prefix = file_modes_enforced(tmp_path)
    data = _data_dir_with_history(tmp_path)
    db = data / "chatdesk.db"
    db.chmod(0o444)
    before = snapshot(data)
    finished = run_until_line(data, "is read-only", prefix)
    assert finished.returncode == 2, finished.stderr
    [line] = _lines_naming(finished.stderr, db)
    assert "is read-only" in line and "chmod u+rw" in line and "changed nothing" in line
    assert snapshot(data) == before


def test_a_read_only_wal_is_explained_and_left_as_it_was(tmp_path: Path) -> None:
    prefix = file_modes_enforced(tmp_path)
    source = _data_dir_with_history(tmp_path)
    data = tmp_path / "copied"
    data.mkdir(mode=0o700)
    writer = sqlite3.connect(source / "chatdesk.db")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE threads SET title = 'renamed'")
    writer.commit()  # the change is in the -wal only; copy both as a crash would leave them
    for name in ("chatdesk.db", "chatdesk.db-wal"):
        shutil.copy(source / name, data / name)
    writer.close()
    wal = data / "chatdesk.db-wal"
    wal.chmod(0o400)
    before = snapshot(data)
    finished = run_until_line(data, "is read-only", prefix)
    assert finished.returncode == 2, finished.stderr
    [line] = [line for line in finished.stderr.splitlines() if "is read-only" in line]
    assert line.startswith(f"{wal} is read-only") and "chmod u+rw" in line
    assert snapshot(data) == before


def test_a_read_only_data_dir_is_explained_and_left_as_it_was(tmp_path: Path) -> None:
    prefix = file_modes_enforced(tmp_path)
    data = _data_dir_with_history(tmp_path)
    data.chmod(0o500)
    before = snapshot(data)
    try:
        finished = run_until_line(data, "is read-only", prefix)
        after = snapshot(data)
    finally:
        data.chmod(0o700)  # so pytest can clean up
    assert finished.returncode == 2, finished.stderr
    [line] = _lines_naming(finished.stderr, data)
    assert f"{data} is read-only" in line and "chmod u+rwx" in line
    assert after == before


def test_a_data_dir_that_is_a_file_is_explained_and_left_as_it_was(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("my notes\n")
    before = snapshot(data)
    finished = run_until_line(data, "is a file", [])
    assert finished.returncode == 2, finished.stderr
    [line] = _lines_naming(finished.stderr, data)
    assert "CHATDESK_DATA_DIR" in line
    assert snapshot(data) == before and data.read_text() == "my notes\n"


def _foreign_wal(tmp_path: Path, db: Path) -> None:
    """Put another database's uncheckpointed -wal beside ``db``."""
    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE notes (text)")
    connection.execute("INSERT INTO notes VALUES ('not a chat')")
    connection.commit()
    shutil.copy(tmp_path / "other.db-wal", db.with_name(db.name + "-wal"))
    connection.close()


def test_a_wal_from_another_database_is_named_and_nothing_is_changed(tmp_path: Path) -> None:
    data = _data_dir_with_history(tmp_path)
    db = data / "chatdesk.db"
    wal = data / "chatdesk.db-wal"
    _foreign_wal(tmp_path, db)
    before = snapshot(data)
    finished = run_until_line(data, "does not belong to", [])
    assert finished.returncode == 2, finished.stderr
    [line] = [line for line in finished.stderr.splitlines() if "does not belong" in line]
    assert f"{wal} does not belong to {db}" in line and "Move" in line
    after = snapshot(data)
    # SQLite may build its shared-memory index (-shm, no data) to read the -wal.
    after.pop("data/chatdesk.db-shm", None)
    for name in ("data/chatdesk.db", "data/chatdesk.db-wal"):
        assert after[name] == before[name]
    assert {name for name in after if not name.startswith("data/logs")} == set(before)


def test_a_dropped_search_index_is_named_headless_and_nothing_is_changed(
    tmp_path: Path,
) -> None:
    data = _data_dir_with_history(tmp_path)
    db = data / "chatdesk.db"
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE messages_fts")
    connection.close()
    before = snapshot(data)
    finished = run_until_line(data, "is damaged", [])
    assert finished.returncode == 2, finished.stderr
    [line] = _lines_naming(finished.stderr, db)
    assert "messages_fts" in line and "rebuild" in line
    after = {name: value for name, value in snapshot(data).items() if "/logs" not in name}
    assert after == before


def test_the_repair_offer_accepted_rebuilds_the_search_index_after_a_backup(
    qapp: object, tmp_path: Path
) -> None:
    data = _data_dir_with_history(tmp_path)
    db = data / "chatdesk.db"
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER messages_fts_insert")
        connection.execute("DROP TABLE messages_fts")
    connection.close()
    backups = data / "backups"
    with answering_dialogs("startupAccept") as seen:
        store = _open_store_or_explain(f"sqlite:///{db}", backups)
    assert store is not None
    [question] = seen
    assert question.startswith("startupQuestion:") and str(db) in question
    assert "messages_fts" in question and str(backups) in question
    [backup] = backups.glob("chatdesk-*-before-repair.db")
    assert backup.stat().st_mode & 0o777 == 0o600
    services = Services(store)
    user = services.users.ensure()
    thread = services.threads.create(user, "after")
    services.messages.send(user, thread.id, "another castle", triggers_execution=False)
    assert len(services.search.search(user, "castle")) == 2
    store.close()


def test_the_repair_offer_declined_changes_nothing(qapp: object, tmp_path: Path) -> None:
    data = _data_dir_with_history(tmp_path)
    db = data / "chatdesk.db"
    with sqlite3.connect(db) as connection:
        connection.execute("DROP INDEX ix_messages_thread_id_id")
    connection.close()
    before = snapshot(data)
    with answering_dialogs("startupDecline"):
        assert _open_store_or_explain(f"sqlite:///{db}", data / "backups") is None
    assert snapshot(data) == before


def test_a_lost_table_without_backups_names_the_remedy(qapp: object, tmp_path: Path) -> None:
    data = _data_dir_with_history(tmp_path)
    db = data / "chatdesk.db"
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE execution_logs")
    connection.close()
    before = snapshot(data)
    with answering_dialogs("startupDecline") as seen:
        assert _open_store_or_explain(f"sqlite:///{db}", data / "backups") is None
    [problem] = seen
    assert problem.startswith("startupProblem:") and "execution_logs" in problem
    assert str(data / "backups") in problem and "changed nothing" in problem
    assert snapshot(data) == before


def test_a_repair_that_cannot_back_up_is_explained_and_changes_nothing(
    qapp: object, tmp_path: Path
) -> None:
    data = _data_dir_with_history(tmp_path)
    db = data / "chatdesk.db"
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER messages_fts_delete")
    connection.close()
    backups = data / "backups"
    backups.write_text("a file where the backups folder should be")
    before = snapshot(data)
    with answering_dialogs("startupAccept", "startupDecline") as seen:
        assert _open_store_or_explain(f"sqlite:///{db}", backups) is None
    assert seen[1].startswith("startupProblem:") and "failed and was rolled back" in seen[1]
    assert snapshot(data) == before
