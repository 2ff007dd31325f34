"""A chat keeps documents as knowledge, used for every reply of it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-20

``thread_knowledge`` links a thread to attachments (documents) under the name the person
gave them. Rows go with their thread (cascade); an attachment is never deleted while a
link to it remains (no cascade that way). A new table only: no existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "thread_knowledge",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column(
            "added_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_thread_knowledge_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_thread_knowledge_attachment_id_attachments"),
        ),
        sa.PrimaryKeyConstraint("thread_id", "attachment_id", name=op.f("pk_thread_knowledge")),
    )
    op.create_index(
        op.f("ix_thread_knowledge_attachment_id"),
        "thread_knowledge",
        ["attachment_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_thread_knowledge_attachment_id"), table_name="thread_knowledge")
    op.drop_table("thread_knowledge")
