"""Messages carry attached files, stored once per content.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-13

A person may attach images, PDFs, Word documents and text files to a message. Each
file is copied into ``<data dir>/attachments`` under its SHA-256, so ``attachments``
has one row per content (``sha256`` unique: the same file attached twice is stored
once), with its size, type and, for images, its pixel size. ``message_attachments``
links a message to its files in order, under the names the person gave them; it goes
with its message (cascade), while an attachment cannot go while a link to it remains.
``attachment_holds`` says who may send an attachment no message links yet (the person
who added it) and keeps it from being freed meanwhile. New tables only: no existing
row changes, so SQLite needs no batch mode.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("image", "pdf", "docx", "text")


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        server_default=sa.text("(CURRENT_TIMESTAMP)"),
        nullable=False,
    )


def upgrade() -> None:
    allowed = ", ".join(f"'{kind}'" for kind in KINDS)
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        _created_at(),
        sa.CheckConstraint(f"kind IN ({allowed})", name=op.f("ck_attachments_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("sha256", name=op.f("uq_attachments_sha256")),
    )
    op.create_table(
        "message_attachments",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_attachments_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_message_attachments_attachment_id_attachments"),
        ),
        sa.PrimaryKeyConstraint("message_id", "position", name=op.f("pk_message_attachments")),
    )
    op.create_index(
        "ix_message_attachments_attachment_id",
        "message_attachments",
        ["attachment_id"],
        unique=False,
    )
    op.create_table(
        "attachment_holds",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_attachment_holds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_attachment_holds_attachment_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "attachment_id", name=op.f("pk_attachment_holds")),
    )
    op.create_index(
        "ix_attachment_holds_attachment_id", "attachment_holds", ["attachment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_attachment_holds_attachment_id", table_name="attachment_holds")
    op.drop_table("attachment_holds")
    op.drop_index("ix_message_attachments_attachment_id", table_name="message_attachments")
    op.drop_table("message_attachments")
    op.drop_table("attachments")
