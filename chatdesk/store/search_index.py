"""The SQLite full-text search index as the head revision defines it, and its rebuild.

The FTS5 table and the triggers that keep it in step with ``messages`` are derived
data: dropped or damaged, they can be rebuilt from the messages alone. Migration 0004
created them with exactly these statements (migrations stay frozen, so they keep their
own copy); the schema check compares a database's objects against them, and the
repair offered at start-up runs ``rebuild_search_index``.
"""

from __future__ import annotations

from sqlalchemy import Connection

FTS_TABLE = "messages_fts"
FTS_TABLE_SQL = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "content, content='messages', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
TRIGGERS_SQL = {
    "messages_fts_insert": "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "messages_fts_delete": "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); END",
    "messages_fts_update": "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON "
    "messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
}
SHADOW_TABLES = tuple(f"{FTS_TABLE}_{suffix}" for suffix in ("data", "idx", "docsize", "config"))
"""The tables FTS5 keeps the index in (external content: no ``_content`` table)."""


def rebuild_search_index(connection: Connection) -> None:
    """Drop whatever is left of the search index and build it anew from ``messages``.

    Runs inside the caller's transaction: on failure nothing of it stays.
    """
    for name in TRIGGERS_SQL:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    for shadow in SHADOW_TABLES:  # left behind when only the FTS table itself was lost
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {shadow}")
    connection.exec_driver_sql(FTS_TABLE_SQL)
    for statement in TRIGGERS_SQL.values():
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
