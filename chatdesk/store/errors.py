"""Errors the store raises when a database cannot be used as it is."""

from __future__ import annotations


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
