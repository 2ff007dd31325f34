"""A chat remembers where it was imported from, so importing a file again skips it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

``threads.imported_from`` names the conversation a chat was imported from
(``chatgpt:<conversation id>``, ``chatdesk:<sha-256 of the file>``); NULL for chats
made here. Importing looks it up per chat (the index) to say "already imported" instead
of making a second copy. A new nullable column: no existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("threads", sa.Column("imported_from", sa.String(length=300), nullable=True))
    op.create_index(
        "ix_threads_user_id_imported_from", "threads", ["user_id", "imported_from"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_threads_user_id_imported_from", table_name="threads")
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("imported_from")
