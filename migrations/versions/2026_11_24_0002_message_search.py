"""Full-text search over message content.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

SQLite: an FTS5 index over ``messages.content`` (external content, so the text is not
stored twice), kept in sync by triggers, so every path that writes a message (the app,
raw SQL, an import) keeps search right. PostgreSQL: a GIN index on the text's
``tsvector``, queried with the same expression.
"""

from collections.abc import Sequence

from alembic import op

from chatdesk.store.search_ddl import SQLITE_FTS_TRIGGERS

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "content, content='messages', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    *SQLITE_FTS_TRIGGERS,
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
]
POSTGRES_UP = [
    "CREATE INDEX ix_messages_content_search ON messages "
    "USING gin (to_tsvector('simple', content))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_messages_content_search"]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UP)
    elif dialect == "postgresql":
        _run(POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(POSTGRES_DOWN)
