"""An upgrade's reports and its stop during the backup, without Qt: real SQLite files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chatdesk.store.backup import PARTIAL_SUFFIX, backup_sqlite, list_backups
from chatdesk.store.connection import create_store_engine
from chatdesk.store.errors import UpgradeCancelled
from chatdesk.store.migrate import open_store, upgrade, upgrade_needed
from chatdesk.store.schema import HEAD_REVISION
from chatdesk.store.upgrade_progress import Stage, UpgradeMonitor, UpgradeStep


def _database_at(tmp_path: Path, revision: str) -> tuple[str, Path]:
    db = tmp_path / "chatdesk.db"
    engine = create_store_engine(f"sqlite:///{db}")
    upgrade(engine, revision)
    return f"sqlite:///{db}", db


def test_upgrade_needed_only_for_an_existing_older_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatdesk.db'}"
    assert not upgrade_needed(url)  # nothing there yet: created, not upgraded
    open_store(url).close()
    assert not upgrade_needed(url)  # at head
    older, _ = _database_at(tmp_path / "older", "0003")
    assert upgrade_needed(older)


def test_the_backup_reports_bytes_up_to_the_whole_file(tmp_path: Path) -> None:
    url, _ = _database_at(tmp_path, "0003")
    reports: list[UpgradeStep] = []
    store = open_store(url, backup_dir=tmp_path / "backups", monitor=UpgradeMonitor(reports.append))
    store.close()
    backups = [r for r in reports if r.stage is Stage.BACKING_UP]
    assert backups and backups[-1].done == backups[-1].total > 0
    assert store.backup is not None and store.backup.stat().st_size == backups[-1].total
    after_0003 = int(HEAD_REVISION) - 3  # one report for each revision to run
    revisions = [r for r in reports if r.stage is not Stage.BACKING_UP and " — " not in r.text]
    assert [r.stage for r in revisions] == [Stage.CHECKING, *[Stage.MIGRATING] * after_0003]
    # a long revision tells its steps after its name, keeping the revisions' count
    steps = [r for r in reports if " — " in r.text]
    assert [r.text.split(" — ")[1] for r in steps] == [
        "copying messages into their new table (1 of 5)",
        "linking each message to the one it follows (2 of 5)",
        "linking replies to their questions (3 of 5)",
        "giving each chat the end of its path (4 of 5)",
        "checking every link (5 of 5)",
    ]
    tree_revision = revisions[7 - 3]  # 0007, the fourth to run after 0003
    assert all(r.text.startswith(tree_revision.text) for r in steps)
    assert {(r.done, r.total) for r in steps} == {(tree_revision.done, tree_revision.total)}


def test_a_stop_during_the_backup_leaves_no_partial_copy(tmp_path: Path) -> None:
    url, db = _database_at(tmp_path, "0003")
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    def stop_when_backing_up(step: UpgradeStep) -> None:
        if step.stage is Stage.BACKING_UP:
            monitor.request_stop()

    monitor = UpgradeMonitor(stop_when_backing_up)
    backups = tmp_path / "backups"
    with pytest.raises(UpgradeCancelled):
        open_store(url, backup_dir=backups, monitor=monitor)
    assert list(backups.iterdir()) == []
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert upgrade_needed(url)
    open_store(url, backup_dir=backups).close()  # and it upgrades next time
    assert not upgrade_needed(url)
    assert len(list_backups(backups)) == 1


def test_a_copy_cut_short_is_never_listed_and_is_cleaned_up(tmp_path: Path) -> None:
    _, db = _database_at(tmp_path, HEAD_REVISION)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    cut_short = backups / f"chatdesk-20200101T000000000000Z-before-0004.db{PARTIAL_SUFFIX}"
    cut_short.write_bytes(b"half a database")
    assert list_backups(backups) == []
    made = backup_sqlite(db, backups, label="daily")
    assert list_backups(backups) == [made]
    assert not cut_short.exists()
