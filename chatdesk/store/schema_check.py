"""A cheap check, at every start, that a database at head still has its whole schema.

A table, column, index or trigger dropped by hand (or by a tool) opens without a word
and then makes every send, search or delete fail. One catalog query (SQLite's
``sqlite_master`` joined with ``pragma_table_info``; PostgreSQL's ``pg_catalog``)
is compared against the SQLAlchemy models and the search index objects of the head
revision; it reads no rows of chat history, so it costs the same on any size of
history. Objects the database has beyond these are not damage (a newer revision may
add some); only missing or altered ones are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, MetaData, text

from chatdesk.store.search_index import FTS_TABLE, FTS_TABLE_SQL, SHADOW_TABLES, TRIGGERS_SQL

SQLITE_CATALOG = (
    "SELECT m.type, m.name, m.sql, c.name FROM sqlite_master AS m "
    "LEFT JOIN pragma_table_info(CASE WHEN m.type = 'table' "
    "AND m.sql NOT LIKE 'CREATE VIRTUAL TABLE%' THEN m.name END) AS c"
)
"""Every object with its statement, and each plain table's columns. Virtual tables are
not asked for columns: a damaged FTS table would fail the whole query."""
POSTGRES_CATALOG = text(
    "SELECT c.relkind, c.relname, a.attname FROM pg_catalog.pg_class AS c "
    "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_attribute AS a "
    "ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'i')"
)
POSTGRES_SEARCH_INDEX = "ix_messages_content_search"


@dataclass(frozen=True)
class SchemaDamage:
    """What a database lacks, each as "table messages", "index ix_...", "trigger ...".

    Attributes:
        missing: the missing or altered objects, in a stable order.
        rebuildable: every one of them is derived data (an index, the search index),
            so rebuilding them from the rows loses nothing.
        search_index: the SQLite search index (FTS table or triggers) is among them.
    """

    missing: tuple[str, ...]
    rebuildable: bool
    search_index: bool = False

    def describe(self) -> str:
        return ", ".join(self.missing)


@dataclass(frozen=True)
class _Expected:
    tables: dict[str, frozenset[str]]
    indexes: frozenset[str]


def _expected(metadata: MetaData) -> _Expected:
    tables = {
        name: frozenset(column.name for column in table.columns)
        for name, table in metadata.tables.items()
    }
    indexes = frozenset(
        str(index.name)
        for table in metadata.tables.values()
        for index in table.indexes
        if index.name is not None
    )
    return _Expected(tables, indexes)


def _models_metadata() -> MetaData:
    import chatdesk.store.models  # noqa: F401  (puts the tables on Base.metadata)
    from chatdesk.store.base import Base

    return Base.metadata


def _damage(missing: Iterable[tuple[str, bool]], search_index: bool = False) -> SchemaDamage | None:
    found = sorted(set(missing))
    if not found:
        return None
    return SchemaDamage(
        missing=tuple(what for what, _ in found),
        rebuildable=all(rebuildable for _, rebuildable in found),
        search_index=search_index,
    )


def _missing_from_models(
    expected: _Expected, columns: dict[str, set[str]], indexes: set[str]
) -> list[tuple[str, bool]]:
    missing: list[tuple[str, bool]] = []
    for table, wanted in expected.tables.items():
        if table not in columns:
            missing.append((f"table {table}", False))
            continue
        for column in sorted(wanted - columns[table]):
            missing.append((f"column {table}.{column}", False))
    for index in sorted(expected.indexes - indexes):
        missing.append((f"index {index}", True))
    return missing


def find_sqlite_damage(
    connection: sqlite3.Connection, metadata: MetaData | None = None
) -> SchemaDamage | None:
    """What the SQLite database behind ``connection`` lacks; None when it is whole."""
    columns: dict[str, set[str]] = {}
    indexes: set[str] = set()
    sql: dict[str, str | None] = {}
    for kind, name, statement, column in connection.execute(SQLITE_CATALOG):
        sql[name] = statement
        if kind == "table":
            names = columns.setdefault(name, set())
            if column is not None:
                names.add(column)
        elif kind == "index":
            indexes.add(name)
    expected = _expected(metadata or _models_metadata())
    missing = _missing_from_models(expected, columns, indexes)
    search = {FTS_TABLE: FTS_TABLE_SQL, **TRIGGERS_SQL}
    search_damaged = False
    for name, statement in search.items():
        if sql.get(name) != statement:
            search_damaged = True
            kind = "table" if name == FTS_TABLE else "trigger"
            state = "missing" if name not in sql else "altered"
            missing.append((f"search index {kind} {name} ({state})", True))
    if FTS_TABLE in sql:  # without it, a rebuild recreates these too
        for shadow in SHADOW_TABLES:
            if shadow not in sql:  # FTS5 then cannot even drop its table: not rebuildable
                missing.append((f"search index table {shadow}", False))
    return _damage(missing, search_damaged)


def find_postgres_damage(
    connection: Connection, metadata: MetaData | None = None
) -> SchemaDamage | None:
    """What the PostgreSQL schema behind ``connection`` lacks; None when it is whole."""
    columns: dict[str, set[str]] = {}
    indexes: set[str] = set()
    for kind, name, column in connection.execute(POSTGRES_CATALOG):
        if kind == "i":
            indexes.add(name)
        else:
            names = columns.setdefault(name, set())
            if column is not None:
                names.add(column)
    expected = _expected(metadata or _models_metadata())
    missing = _missing_from_models(expected, columns, indexes)
    if POSTGRES_SEARCH_INDEX not in indexes:
        missing.append((f"index {POSTGRES_SEARCH_INDEX}", True))
    return _damage(missing)
