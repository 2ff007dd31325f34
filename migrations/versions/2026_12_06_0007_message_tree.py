"""Conversations become trees: each message has a parent, a thread its current leaf.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Regenerate, retry and "edit and resend" used to leave the old text in the line, marked
superseded. Now a message points at the message it follows (``parent_id``, a message
of the same thread and user by a composite foreign key; a message with children cannot
be deleted alone), siblings are versions, ``chosen_at`` says which version was chosen
last, and ``threads.current_leaf_id`` ends the path the person sees.

Every existing thread becomes a tree without losing a row:

- a message follows the newest earlier message of its thread that was not superseded;
- a reply follows the message that asked for it (its run's, or an earlier run's for a
  retried or regenerated one), so all replies to one question are its versions;
- an edited-and-resent message that superseded its original therefore follows what the
  original followed: it becomes a version of it. A copy sent while later messages
  existed was answered with all of them, so it stays where the model saw it.
- the current leaf is the thread's newest message, the end of the line shown before.

SQLite rebuilds ``messages`` for the new constraints (and recreates the search
triggers the rebuild drops); PostgreSQL alters it in place.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatdesk.store.search_ddl import SQLITE_FTS_TRIGGERS
from chatdesk.store.upgrade_progress import MIGRATION_STEPS_LOGGER

steps = logging.getLogger(MIGRATION_STEPS_LOGGER)

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARENT_FK = "fk_messages_parent_id_thread_id_user_id_messages"
_LEAF_FK = "fk_threads_current_leaf_id_messages"
_TRIPLE = "uq_messages_id_thread_id_user_id"
_CHILDREN = "ix_messages_thread_id_parent_id"

# A message follows the newest earlier message of its thread that was not superseded.
_LINE_PARENTS = """
UPDATE messages SET parent_id = line.parent_id, chosen_at = messages.created_at
FROM (
    SELECT id, MAX(CASE WHEN superseded THEN NULL ELSE id END) OVER (
        PARTITION BY thread_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS parent_id
    FROM (SELECT id, thread_id, {superseded} AS superseded FROM messages) AS flagged
) AS line
WHERE messages.id = line.id
"""
_SUPERSEDED = {
    "sqlite": "coalesce(json_extract(metadata, '$.superseded'), 0) = 1",
    "postgresql": "coalesce((metadata ->> 'superseded') = 'true', false)",
}
# A reply follows the message whose current run wrote it.
_REPLY_PARENTS = """
UPDATE messages SET parent_id = asker.id
FROM messages AS asker
WHERE messages.role = 'assistant' AND messages.execution_id IS NOT NULL
  AND asker.execution_id = messages.execution_id AND asker.role = 'user'
  AND asker.thread_id = messages.thread_id AND asker.id < messages.id
"""
_LEAVES = (
    "UPDATE threads SET current_leaf_id = "
    "(SELECT max(messages.id) FROM messages WHERE messages.thread_id = threads.id)"
)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    steps.info("copying messages into their new table (1 of 5)")
    with op.batch_alter_table(
        "messages", recreate="always" if dialect == "sqlite" else "auto"
    ) as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "chosen_at",
                sa.DateTime(timezone=True),
                server_default=sa.text("CURRENT_TIMESTAMP"),
                nullable=False,
            )
        )
        batch.create_unique_constraint(_TRIPLE, ["id", "thread_id", "user_id"])
        batch.create_foreign_key(
            _PARENT_FK,
            "messages",
            ["parent_id", "thread_id", "user_id"],
            ["id", "thread_id", "user_id"],
        )
        batch.create_index(_CHILDREN, ["thread_id", "parent_id", "chosen_at"])
    if dialect == "sqlite":
        for statement in SQLITE_FTS_TRIGGERS:
            op.execute(statement)
    steps.info("linking each message to the one it follows (2 of 5)")
    op.execute(_LINE_PARENTS.format(superseded=_SUPERSEDED.get(dialect, _SUPERSEDED["sqlite"])))
    steps.info("linking replies to their questions (3 of 5)")
    op.execute(_REPLY_PARENTS)
    _link_earlier_replies(bind)
    steps.info("giving each chat the end of its path (4 of 5)")
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("current_leaf_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            _LEAF_FK, "messages", ["current_leaf_id"], ["id"], ondelete="SET NULL"
        )
    op.execute(_LEAVES)
    steps.info("checking every link (5 of 5)")


def _link_earlier_replies(bind: sa.Connection) -> None:
    """Replies of retried or regenerated runs follow the message that asked for them.

    The message lists its earlier runs in its metadata (``earlier_executions``); few
    messages have any, so they are read and linked here rather than in SQL that would
    differ between the databases' JSON functions.
    """
    messages = sa.table(
        "messages",
        sa.column("id", sa.Integer()),
        sa.column("thread_id", sa.Integer()),
        sa.column("role", sa.String()),
        sa.column("execution_id", sa.Integer()),
        sa.column("parent_id", sa.Integer()),
        sa.column("metadata", sa.JSON()),
    )
    asked: dict[tuple[int, int], int] = {}
    rows = bind.execute(
        sa.select(messages.c.id, messages.c.thread_id, messages.c.metadata).where(
            messages.c.role == "user",
            sa.cast(messages.c.metadata, sa.String()).like('%"earlier_executions"%'),
        )
    )
    for message_id, thread_id, meta in rows:
        earlier = (meta or {}).get("earlier_executions") or []
        for execution_id in earlier:
            if isinstance(execution_id, int):
                asked[(thread_id, execution_id)] = message_id
    if not asked:
        return
    execution_ids = sorted({execution_id for _, execution_id in asked})
    updates = []
    for start in range(0, len(execution_ids), 500):
        chunk = execution_ids[start : start + 500]
        replies = bind.execute(
            sa.select(messages.c.id, messages.c.thread_id, messages.c.execution_id).where(
                messages.c.role == "assistant", messages.c.execution_id.in_(chunk)
            )
        )
        for reply_id, thread_id, execution_id in replies:
            asker = asked.get((thread_id, execution_id))
            if asker is not None and asker < reply_id:
                updates.append({"reply": reply_id, "asker": asker})
    if updates:
        bind.execute(
            messages.update()
            .where(messages.c.id == sa.bindparam("reply"))
            .values(parent_id=sa.bindparam("asker")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.drop_constraint(_LEAF_FK, type_="foreignkey")
        batch.drop_column("current_leaf_id")
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table(
        "messages", recreate="always" if dialect == "sqlite" else "auto"
    ) as batch:
        batch.drop_index(_CHILDREN)
        batch.drop_constraint(_PARENT_FK, type_="foreignkey")
        batch.drop_constraint(_TRIPLE, type_="unique")
        batch.drop_column("chosen_at")
        batch.drop_column("parent_id")
    if dialect == "sqlite":
        for statement in SQLITE_FTS_TRIGGERS:
            op.execute(statement)
