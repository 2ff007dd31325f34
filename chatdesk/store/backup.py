"""Consistent, private copies of a SQLite database, and pruning of old ones.

Copies use SQLite's online backup API (never a file copy, which could catch a
transaction half written) into a file created 0600 beforehand. A backup is written
under a ``.partial`` name and renamed when whole, so one cut short (chatdesk killed
while copying) is never listed, and so never offered for a restore.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from chatdesk.store.connection import create_private_file

BACKUP_GLOB = "chatdesk-*.db"
DUMP_GLOB = "chatdesk-*.dump"
"""PostgreSQL backups (``pg_backup.py``): same names, same pruning, never restored here."""
PARTIAL_SUFFIX = ".partial"
KEEP_BACKUPS = 5
# With a progress callback, copy this many pages per step (16 MB at SQLite's 4 KB pages).
PROGRESS_STEP_PAGES = 4096

BackupProgress = Callable[[int, int], None]
"""Called with (bytes copied, bytes in all) after each step; raising stops the copy."""


def backup_name(backup_dir: Path, label: str, suffix: str = ".db") -> Path:
    """``chatdesk-<utc time>-<label><suffix>`` in ``backup_dir``: names sort by time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return backup_dir / f"chatdesk-{stamp}-{label}{suffix}"


def backup_sqlite(
    source: Path,
    backup_dir: Path,
    label: str,
    keep: int = KEEP_BACKUPS,
    progress: BackupProgress | None = None,
) -> Path:
    """Copy ``source`` into ``backup_dir`` as ``chatdesk-<utc time>-<label>.db``.

    Opens the source read-only, so a copy never changes the database it protects, then
    keeps only the ``keep`` newest backups. If the copy fails or ``progress`` raises,
    the partial file is deleted and the error propagates.
    """
    target = backup_name(backup_dir, label)
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    create_private_file(partial)
    try:
        _copy_database(source, partial, progress)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    prune_backups(backup_dir, keep)
    return target


def list_backups(backup_dir: Path) -> list[Path]:
    """Backups newest first (their names sort by time)."""
    return sorted(backup_dir.glob(BACKUP_GLOB), reverse=True)


def prune_backups(backup_dir: Path, keep: int = KEEP_BACKUPS) -> None:
    """Delete all but the ``keep`` newest backups, and copies a kill cut short."""
    for pattern in (BACKUP_GLOB, DUMP_GLOB):
        for old in sorted(backup_dir.glob(pattern), reverse=True)[keep:]:
            old.unlink(missing_ok=True)
        for cut_short in backup_dir.glob(pattern + PARTIAL_SUFFIX):
            cut_short.unlink(missing_ok=True)


def restore_backup(database: Path, backup: Path) -> Path:
    """Put ``backup`` in place of ``database``; the old file is kept, never deleted.

    The damaged file (with its ``-wal``/``-shm``) is renamed to
    ``<name>.damaged-<utc time>`` beside it; returns that path.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = database.with_name(f"{database.name}.damaged-{stamp}")
    for suffix in ("-wal", "-shm"):
        companion = database.with_name(database.name + suffix)
        if companion.exists():
            companion.rename(aside.with_name(aside.name + suffix))
    if database.exists():
        database.rename(aside)
    create_private_file(database)
    _copy_database(backup, database)
    return aside


def _copy_database(source: Path, target: Path, progress: BackupProgress | None = None) -> None:
    """Copy with SQLite's backup API, reading ``source`` read-only (never changing it)."""
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            if progress is None:
                src.backup(dst)
            else:
                page_size: int = src.execute("PRAGMA page_size").fetchone()[0]

                def report(_status: int, remaining: int, total: int) -> None:
                    progress((total - remaining) * page_size, total * page_size)

                src.backup(dst, pages=PROGRESS_STEP_PAGES, progress=report)
        finally:
            dst.close()
    finally:
        src.close()
