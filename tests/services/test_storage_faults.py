"""Which database errors are the environment's fault (told to the person) and which are bugs.

The SQLite cases are real errors from a real SQLite; PostgreSQL's are told apart by
SQLSTATE alone, so an exception carrying the code stands in for psycopg's.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from chatdesk.services.errors import StorageError, StorageFault
from chatdesk.services.storage_faults import classify, storage_error, storage_errors_told


class _PostgresError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server said {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "fault"),
    [
        ("53100", StorageFault.DISK_FULL),
        ("55P03", StorageFault.BUSY),
        ("40P01", StorageFault.BUSY),
        ("25006", StorageFault.READ_ONLY),
        ("42P01", StorageFault.DAMAGED),
        ("08006", StorageFault.UNAVAILABLE),
        ("57P01", StorageFault.UNAVAILABLE),
        ("23505", None),  # a unique violation: chatdesk's own bug
        ("42601", None),  # a syntax error: a bug
    ],
)
def test_postgres_faults_come_from_the_sqlstate(sqlstate: str, fault: StorageFault | None) -> None:
    error = DBAPIError("SELECT 1", {}, _PostgresError(sqlstate))
    assert classify(error) is fault


def _real_sqlite_error(sql: str) -> DBAPIError:
    with sqlite3.connect(":memory:") as raw:
        raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        raw.execute("INSERT INTO t VALUES (1)")
        try:
            raw.execute(sql)
        except sqlite3.Error as orig:
            wrap = IntegrityError if isinstance(orig, sqlite3.IntegrityError) else OperationalError
            return wrap(sql, {}, orig)
    raise AssertionError(f"{sql} did not fail")


def test_a_missing_table_is_damage_but_bad_sql_and_a_broken_constraint_are_bugs() -> None:
    assert classify(_real_sqlite_error("SELECT * FROM gone")) is StorageFault.DAMAGED
    assert classify(_real_sqlite_error("SELEC 1")) is None
    assert classify(_real_sqlite_error("INSERT INTO t VALUES (1)")) is None


def test_a_bug_passes_through_untouched_and_a_fault_is_told() -> None:
    bug = _real_sqlite_error("INSERT INTO t VALUES (1)")
    with pytest.raises(IntegrityError), storage_errors_told():
        raise bug
    told = storage_error(_real_sqlite_error("SELECT * FROM gone"))
    assert isinstance(told, StorageError)
    assert str(told).startswith("chatdesk's database is damaged (no such table: gone).")
