"""A chat remembers which tools it switched off and which it allowed without asking.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Crews may now call MCP tools. A chat's header can switch a server or a single tool
off, and "Allow for this chat" on an approval lets that tool run without asking again
in that chat. Both are rows of ``thread_tool_rules`` (``tool`` is ``server`` or
``server/tool``; ``rule`` is ``disabled`` or ``approved``), deleted with their thread.
A new table only: no existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "thread_tool_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(length=300), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_thread_tool_rules_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "rule IN ('disabled', 'approved')", name=op.f("ck_thread_tool_rules_rule")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_tool_rules")),
        sa.UniqueConstraint(
            "thread_id", "tool", "rule", name=op.f("uq_thread_tool_rules_thread_id_tool_rule")
        ),
    )


def downgrade() -> None:
    op.drop_table("thread_tool_rules")
