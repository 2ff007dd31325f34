"""Errors the store raises when a database cannot be used as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatdesk.store.schema_check import SchemaDamage


class StoreError(Exception):
    """A database chatdesk cannot open; the message is meant for the person."""


class DatabaseTooNewError(StoreError):
    """The database was written by a newer chatdesk (its schema revision is unknown here)."""


class NotAChatdeskDatabaseError(StoreError):
    """The file holds tables but no chatdesk schema revision."""


class MigrationFailedError(StoreError):
    """An upgrade failed; the original database was left as it was."""


class UpgradeCancelled(StoreError):
    """The person stopped an upgrade; it was rolled back (or had already finished)."""


class DamagedDatabaseError(StoreError):
    """The file cannot be read as a SQLite database; ``path`` names it."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class DamagedSchemaError(DamagedDatabaseError):
    """The database is at head but lacks tables, columns, indexes or its search index.

    ``damage`` says what is missing and whether rebuilding can restore it.
    """

    def __init__(self, message: str, path: str, damage: SchemaDamage) -> None:
        super().__init__(message, path)
        self.damage = damage


class ForeignWalError(StoreError):
    """The ``-wal`` file beside the database holds another database's changes.

    ``wal`` names it; read without it, the database is a chatdesk one.
    """

    def __init__(self, message: str, wal: str) -> None:
        super().__init__(message)
        self.wal = wal


class BackupUnavailableError(StoreError):
    """No backup could be made before an upgrade (no ``pg_dump``, one too old, or it
    failed); nothing was changed. The app asks whether to upgrade without one."""
