"""People keep saved prompts to insert with ``/`` in the composer.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-20

``prompts`` holds a person's saved prompts: a ``name`` (unique per person) and the
``text`` inserted, which may name variables (``{{name}}``, ``{{name|default}}``) filled
at insertion. Rows go with their user (cascade). A new table only: no existing row
changes, so SQLite needs no batch mode.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("(CURRENT_TIMESTAMP)"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_prompts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_prompts_user_id_name")),
    )


def downgrade() -> None:
    op.drop_table("prompts")
