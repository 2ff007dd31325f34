"""The data directory opened for a command, the way the app would, minus the window.

A command that writes takes the data directory's lock first (the one the app holds
while it runs, ``single_instance``): the database has one writer, so while chatdesk runs
the command is refused with a word on what to do. QtCore's lock file is used because
it is the app's own (its format, its stale-lock rules); it needs no display.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from chatdesk.services import Services

BAD_INPUT, REFUSED = 2, 3


class DataAccessError(Exception):
    """The data directory cannot be used now; the message says why, ``exit_code`` how."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _without_backup_agreed() -> bool:
    """``CHATDESK_UPGRADE_WITHOUT_BACKUP=1``: upgrade a server's database that could not
    be backed up (no pg_dump here); without it such an upgrade is refused."""
    import os

    from chatdesk.store.pg_backup import WITHOUT_BACKUP_ENV

    return os.environ.get(WITHOUT_BACKUP_ENV, "").strip().lower() in ("1", "yes", "true")


@contextmanager
def writable_services() -> Iterator[tuple[Services, int]]:
    """The services over the person's database (created or upgraded if need be) and
    the acting user, with the data directory held against the app starting meanwhile."""
    from PySide6.QtCore import QLockFile

    from chatdesk.config import (
        LOCK_FILE_NAME,
        backups_dir,
        data_dir,
        database_url,
        ensure_private_dir,
    )
    from chatdesk.file_checks import find_file_problem
    from chatdesk.services.errors import ServiceError
    from chatdesk.store.connection import sqlite_path
    from chatdesk.store.errors import BackupUnavailableError, StoreError
    from chatdesk.store.migrate import open_store, upgrade_needed

    directory = data_dir(create=False)
    url = database_url(directory)
    problem = find_file_problem(directory, sqlite_path(url))
    if problem is not None:
        raise DataAccessError(problem.message())
    try:
        ensure_private_dir(directory)
    except OSError as error:
        raise DataAccessError(f"{directory}: {error.strerror}.") from None
    lock = QLockFile(str(directory / LOCK_FILE_NAME))
    lock.setStaleLockTime(0)  # only a dead owner's lock is stale
    if not lock.tryLock(0):
        lock.removeStaleLockFile()
        if not lock.tryLock(0):
            raise DataAccessError(
                "chatdesk is running and writes this history: import from its window "
                "(File > Import chats…), or quit it and try again.",
                REFUSED,
            )
    try:
        try:
            if upgrade_needed(url):  # long on a big history: say so before it starts
                print("Upgrading the chat history first (a backup is kept)…", file=sys.stderr)
            store = open_store(url, backups_dir(directory), without_backup=_without_backup_agreed())
        except BackupUnavailableError as error:
            raise DataAccessError(
                f"{error} Nothing was changed; back the database up yourself, then set "
                "CHATDESK_UPGRADE_WITHOUT_BACKUP=1 to upgrade it without one.",
                REFUSED,
            ) from None
        except StoreError as error:
            raise DataAccessError(str(error)) from None
        try:
            services = Services(store)
            try:
                user_id = services.users.ensure()
            except ServiceError as error:
                raise DataAccessError(str(error)) from None
            yield services, user_id
        finally:
            store.close()
    finally:
        lock.unlock()
