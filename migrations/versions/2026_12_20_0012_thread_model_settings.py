"""A chat keeps its own model settings (temperature, top-p, max tokens, context budget, ...).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-20

``threads.model_settings`` holds the values the person set for this chat, as a JSON
object of the set ones only (``chatdesk.model_params``); NULL (every chat so far)
means the crew's defaults, else the provider's. A new nullable column: no row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("threads", sa.Column("model_settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("model_settings")
