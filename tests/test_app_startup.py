"""Start-up faults: a damaged database is explained and restorable; a newer one refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.app import _open_store_or_explain
from chatdesk.services import Services
from chatdesk.store.backup import backup_sqlite
from chatdesk.store.migrate import open_store
from chatdesk.testing import OFFSCREEN_NOISE
from tests.support.dialogs import answering_dialogs

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)  # a dialog shown offscreen


def _damaged_with_backup(tmp_path: Path) -> tuple[str, Path, bytes]:
    db = tmp_path / "chatdesk.db"
    url = f"sqlite:///{db}"
    services = Services(open_store(url))
    user = services.users.ensure()
    services.threads.create(user, "precious")
    services.store.close()
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    backup_sqlite(db, backups, label="daily")
    with db.open("r+b") as broken:
        broken.write(b"\x00not sqlite\x00" * 20)
    return url, backups, db.read_bytes()


def test_a_damaged_database_is_restored_when_the_person_agrees(
    qapp: object, tmp_path: Path
) -> None:
    url, backups, damaged = _damaged_with_backup(tmp_path)
    with answering_dialogs("startupAccept") as asked:
        store = _open_store_or_explain(url, backups)
    assert store is not None
    assert "damaged" in asked[0] and "Restore the latest backup" in asked[0]
    services = Services(store)
    assert [t.title for t in services.threads.list(services.users.ensure())] == ["precious"]
    store.close()
    kept = [
        p for p in tmp_path.glob("chatdesk.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))
    ]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged


def test_a_damaged_database_is_left_alone_when_the_person_declines(
    qapp: object, tmp_path: Path
) -> None:
    url, backups, damaged = _damaged_with_backup(tmp_path)
    with answering_dialogs("startupDecline"):
        assert _open_store_or_explain(url, backups) is None
    assert (tmp_path / "chatdesk.db").read_bytes() == damaged


def test_a_newer_database_is_refused_with_a_message(qapp: object, tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "chatdesk.db"
    open_store(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffff'")
    connection.close()
    with answering_dialogs("startupDecline") as shown:
        assert _open_store_or_explain(f"sqlite:///{db}", tmp_path) is None
    assert "newer version of chatdesk" in shown[0]
