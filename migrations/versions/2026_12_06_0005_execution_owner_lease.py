"""Each reply remembers which chatdesk is writing it, so several can share a database.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Every run names the client running it and how long its claim lasts (owner + lease).
Several clients may share one database. Start-up recovery used to fail every pending or
running run, so a second client marked the first one's live reply as interrupted. Now a
run records its ``owner`` (one client process) and ``lease_expires_at`` (renewed while
the run lives); recovery takes over only runs whose lease ran out or whose owner is
provably gone. Both columns are nullable: rows from before this revision have neither,
and are recovered as before. The index serves recovery's search for live runs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=300), nullable=True))
        batch.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_executions_status_lease_expires_at", ["status", "lease_expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_index("ix_executions_status_lease_expires_at")
        batch.drop_column("lease_expires_at")
        batch.drop_column("owner")
