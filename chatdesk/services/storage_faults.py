"""Database errors that are the environment's fault, told apart from bugs.

A locked database, a full disk, a read-only file, a damaged schema or a lost server
are not mistakes in chatdesk or in what the person typed: each becomes one
``StorageError`` whose message says what happened and what to do, so the window can
show it and keep the person's text. Anything else (a constraint chatdesk broke, SQL it
got wrong) stays the SQLAlchemy error it was: a bug, for the global exception hook.
The primary result code comes from SQLite (``sqlite_errorcode``, Python 3.11+) or the
SQLSTATE from PostgreSQL (psycopg's ``sqlstate``), not from the wording.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from chatdesk.services.errors import StorageError, StorageFault
from chatdesk.services.privacy_faults import privacy_refusal

log = logging.getLogger(__name__)

NOTHING_SAVED = "Nothing was saved."

_ADVICE = {
    StorageFault.BUSY: (
        "The database is busy: another program is holding it. "
        + NOTHING_SAVED
        + " Try again in a moment, or close the other program."
    ),
    StorageFault.DISK_FULL: (
        "The disk that holds chatdesk's database is full. "
        + NOTHING_SAVED
        + " Free some space, then try again."
    ),
    StorageFault.READ_ONLY: (
        "chatdesk's database cannot be written (it is read-only). "
        + NOTHING_SAVED
        + " Check the file's permissions and the disk, then try again."
    ),
    StorageFault.DAMAGED: (
        "chatdesk's database is damaged ({detail}). "
        + NOTHING_SAVED
        + " Restart chatdesk to check it, or restore a backup."
    ),
    StorageFault.UNAVAILABLE: (
        "chatdesk cannot reach its database ({detail}). "
        + NOTHING_SAVED
        + " Check the disk or the database server, then try again."
    ),
}

# SQLite primary result codes (https://sqlite.org/rescode.html)
_SQLITE_FAULTS = {
    5: StorageFault.BUSY,  # SQLITE_BUSY
    6: StorageFault.BUSY,  # SQLITE_LOCKED
    8: StorageFault.READ_ONLY,  # SQLITE_READONLY
    10: StorageFault.UNAVAILABLE,  # SQLITE_IOERR
    11: StorageFault.DAMAGED,  # SQLITE_CORRUPT
    13: StorageFault.DISK_FULL,  # SQLITE_FULL
    14: StorageFault.UNAVAILABLE,  # SQLITE_CANTOPEN
    15: StorageFault.UNAVAILABLE,  # SQLITE_PROTOCOL
    26: StorageFault.DAMAGED,  # SQLITE_NOTADB
}
_SQLITE_ERROR = 1
_MISSING_SCHEMA = ("no such table", "no such column", "no such index")

# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_POSTGRES_FAULTS = {
    "53100": StorageFault.DISK_FULL,  # disk_full
    "55P03": StorageFault.BUSY,  # lock_not_available
    "40P01": StorageFault.BUSY,  # deadlock_detected
    "40001": StorageFault.BUSY,  # serialization_failure
    "57014": StorageFault.BUSY,  # query_canceled (a lock or statement timeout)
    "25006": StorageFault.READ_ONLY,  # read_only_sql_transaction
    "42P01": StorageFault.DAMAGED,  # undefined_table
    "42703": StorageFault.DAMAGED,  # undefined_column
}
_POSTGRES_UNAVAILABLE_CLASSES = ("08", "53", "57P")


def classify(error: DBAPIError) -> StorageFault | None:
    """The environment fault behind ``error``, or None when it is a bug."""
    if error.connection_invalidated:
        return StorageFault.UNAVAILABLE
    orig = error.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _sqlite_fault(code, str(orig))
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        fault = _POSTGRES_FAULTS.get(state)
        if fault is None and state.startswith(_POSTGRES_UNAVAILABLE_CLASSES):
            fault = StorageFault.UNAVAILABLE
        return fault
    if type(orig).__name__ == "OperationalError":  # e.g. a PostgreSQL connection lost
        return StorageFault.UNAVAILABLE
    return None


def _sqlite_fault(code: int, text: str) -> StorageFault | None:
    primary = code & 0xFF
    if primary == _SQLITE_ERROR:
        return StorageFault.DAMAGED if text.startswith(_MISSING_SCHEMA) else None
    fault = _SQLITE_FAULTS.get(primary)
    if fault is StorageFault.UNAVAILABLE and f"errno={errno.ENOSPC}" in text:
        return StorageFault.DISK_FULL
    return fault


def storage_error(error: DBAPIError) -> StorageError | None:
    """The person-readable ``StorageError`` for ``error``, or None when it is a bug."""
    fault = classify(error)
    if fault is None:
        return None
    detail = str(error.orig).splitlines()[0] if error.orig is not None else ""
    return StorageError(fault, _ADVICE[fault].format(detail=detail or fault.value))


@contextmanager
def storage_errors_told() -> Iterator[None]:
    """Raise an environment fault inside the block as a ``StorageError`` (logged)."""
    try:
        yield
    except DBAPIError as error:
        refused = privacy_refusal(error)
        if refused is not None:
            log.warning("database refused by row-level security: %s", error.orig)
            raise refused from error
        told = storage_error(error)
        if told is None:
            raise
        log.warning("database %s: %s", told.kind.value, error.orig)
        raise told from error
