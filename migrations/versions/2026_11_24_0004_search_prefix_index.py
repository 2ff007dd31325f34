"""Prefix indexes for message search, so the words being typed are found fast.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

Search matches the last word a person types as a prefix. Without a prefix index FTS5
merges the doclists of every word starting with a short prefix ("li" → lisbon, list,
like, ...): 60-600 ms over a million messages. With ``prefix='2 3'`` two- and
three-letter prefixes have their own doclists and answer in about a millisecond; longer
prefixes match few words and stay fast without one. The index grows by about twice its
size. (A one-letter last word is searched as a whole word.) The FTS table is rebuilt
with the option and its triggers recreated; PostgreSQL needs nothing.
"""

from collections.abc import Sequence

from alembic import op

from chatdesk.store.search_ddl import SQLITE_FTS_TRIGGERS

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def _rebuild(prefix: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in ("update", "delete", "insert"):
        op.execute(f"DROP TRIGGER IF EXISTS messages_fts_{name}")
    op.execute("DROP TABLE IF EXISTS messages_fts")
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5("
        "content, content='messages', content_rowid='id', "
        f"tokenize='unicode61 remove_diacritics 2'{prefix})"
    )
    for statement in SQLITE_FTS_TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


def upgrade() -> None:
    _rebuild(", prefix='2 3'")


def downgrade() -> None:
    _rebuild("")
