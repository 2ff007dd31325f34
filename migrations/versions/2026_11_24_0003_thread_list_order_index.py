"""An index in the thread list's exact order (pinned, newest activity, id).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

The list shows pinned threads first, then by ``updated_at``, newest first. With only
``(user_id, updated_at)`` the database sorts all of a user's threads for every page;
with this index a page of 50 is read straight off the index, however many threads
there are.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_threads_user_id_pinned_updated_at_id",
        "threads",
        ["user_id", "pinned", "updated_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_threads_user_id_pinned_updated_at_id", table_name="threads")
