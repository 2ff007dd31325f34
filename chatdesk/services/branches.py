"""Branch into a new chat: the path up to a message, copied into a thread of its own.

Why a copy and not a share: a chat is the unit people delete, export and search, so a
branch that shared rows with its original would lose them with it. The copy keeps each
message's words, role, status, time and metadata; runs stay with the original (its Run
details are where they were), so copies ask for no run. The new chat says where it came
from: its title ("… (branch)") and the copy of the message it was made from, whose
``branched_from`` names the original chat and message. Attached files are shared, not
copied: each copy links the same stored file (freed only when the last link goes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, insert

from chatdesk.services import attachment_links
from chatdesk.services import message_tree as tree
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.records import ThreadRecord
from chatdesk.services.threads import MAX_TITLE_CHARS
from chatdesk.services.unit_of_work import UnitOfWork, owned_message, owned_thread
from chatdesk.store.base import utcnow
from chatdesk.store.models import Message, Thread
from chatdesk.vocabulary import ACTIVE_MESSAGE_STATUSES, MessageStatus

BRANCH_MARK = " (branch)"
BRANCHED_FROM = "branched_from"
"""Metadata of the copy of the message a branch was made from: the original chat's id and
title, and the message's id there (its bubble links back)."""
COPY_CHUNK = 500


class BranchService:
    """Branches of the acting user's chats."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def branch(self, user_id: int, message_id: int) -> ThreadRecord:
        """A new chat holding the path from the first message down to ``message_id``.

        Replies still being written are copied as they are now, ended as stopped.
        """
        with self._uow.write() as (session, changes):
            source = owned_message(session, user_id, message_id)
            original = owned_thread(session, user_id, source.thread_id)
            now = utcnow()
            thread = Thread(
                user_id=user_id,
                title=original.title[: MAX_TITLE_CHARS - len(BRANCH_MARK)].rstrip() + BRANCH_MARK,
                crew=original.crew,
                model=original.model,
                system_prompt=original.system_prompt,
                model_settings=original.model_settings,
                created_at=now,
                updated_at=now,
            )
            session.add(thread)
            session.flush()
            path = tree.ids_up(session, original.id, source.id, tree.WHOLE_PATH)
            table = Message.__table__
            assert isinstance(table, Table)
            previous: int | None = None
            for start in range(0, len(path), COPY_CHUNK):
                loaded = tree.load(session, path[start : start + COPY_CHUNK])
                rows = [_copy(row, thread.id, source, original) for row in loaded]
                ids = session.scalars(
                    insert(Message).returning(Message.id, sort_by_parameter_order=True), rows
                ).all()
                attachment_links.copy(
                    session, {row.id: new_id for row, new_id in zip(loaded, ids, strict=True)}
                )
                links = []
                for new_id in ids:  # each copy follows the one before: a line
                    if previous is not None:
                        links.append({"child": new_id, "parent": previous})
                    previous = new_id
                if links:
                    session.execute(
                        table.update()
                        .where(table.c.id == bindparam("child"))
                        .values(parent_id=bindparam("parent"), updated_at=table.c.updated_at),
                        links,
                    )
            thread.current_leaf_id = previous
            session.flush()
            record = ThreadRecord.of(thread)
            changes.append(
                Change(ChangeKind.CREATED, Entity.THREAD, record.id, record.id, user_id, {}, record)
            )
        return record


def _copy(row: Message, thread_id: int, source: Message, original: Thread) -> dict[str, Any]:
    meta = dict(row.meta or {})
    if row.id == source.id:
        meta[BRANCHED_FROM] = {
            "thread_id": original.id,
            "message_id": source.id,
            "title": original.title,
        }
    status = MessageStatus(row.status)
    if status in ACTIVE_MESSAGE_STATUSES:
        status = MessageStatus.CANCELLED
    return {
        "thread_id": thread_id,
        "user_id": row.user_id,
        "role": row.role,
        "content": row.content,
        "status": status,
        "triggers_execution": False,
        "execution_id": None,
        "meta": meta,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "chosen_at": row.created_at,
    }
