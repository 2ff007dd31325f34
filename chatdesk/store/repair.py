"""Rebuild what a damaged SQLite database lost that its rows can give back.

Indexes and the search index hold nothing of their own: they are rebuilt from the
tables. The database is first copied with the backup machinery (0600, beside the
upgrade backups), then every missing index is created and, if it is damaged, the
search index rebuilt, in ONE transaction: a failure leaves the file as it was.
"""

from __future__ import annotations

from pathlib import Path

from chatdesk.store.backup import backup_sqlite
from chatdesk.store.connection import create_store_engine, sqlite_path
from chatdesk.store.errors import StoreError
from chatdesk.store.migrate import inspect_sqlite_file
from chatdesk.store.search_index import rebuild_search_index

REPAIR_BACKUP_LABEL = "before-repair"


def rebuild_derived_data(url: str, backup_dir: Path) -> Path:
    """Back up the database at ``url``, then rebuild its missing indexes; returns the backup.

    Raises ``StoreError`` when the database is not SQLite or its damage is more than
    indexes (then nothing is written, not even a backup).
    """
    import chatdesk.store.models  # noqa: F401  (puts the tables on Base.metadata)
    from chatdesk.store.base import Base

    path = sqlite_path(url)
    if path is None:
        raise StoreError("Only a SQLite database can be repaired by chatdesk.")
    damage = inspect_sqlite_file(path).damage
    if damage is not None and not damage.rebuildable:
        raise StoreError(f"{path} lacks {damage.describe()}, which cannot be rebuilt.")
    backup = backup_sqlite(path, backup_dir, label=REPAIR_BACKUP_LABEL)
    engine = create_store_engine(url)
    try:
        with engine.begin() as connection:
            for table in Base.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(connection, checkfirst=True)
            if damage is not None and damage.search_index:
                rebuild_search_index(connection)
    finally:
        engine.dispose()
    return backup
