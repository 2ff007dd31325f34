"""The queries of ``services.live_sync``: the rows other clients announced, read again,
and every row changed since a moment (after a reconnect), as ``Change`` events.

A change is published with the thread and user of the row read again, never those the
announcement claims: a forged notification can at most cause a read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chatdesk.services import attachment_links
from chatdesk.services.announce import Announced
from chatdesk.services.events import RESYNC, Change, ChangeKind, Entity
from chatdesk.services.records import (
    ExecutionLogRecord,
    ExecutionRecord,
    MessageRecord,
    ThreadRecord,
)
from chatdesk.store.models import Execution, ExecutionLog, Message, Thread

RESYNC_LIMIT = 5000
"""At most this many rows of each kind are read again after a reconnect."""

Found = dict[tuple[Entity, int], tuple[Any, int, int]]
"""Each row read again: its record, thread id and user id (the row's, never the
announcement's: a forged one can then at most cause a read)."""


def read_again(session: Session, wanted: dict[Entity, set[int]]) -> Found:
    """Each wanted row, one query per entity (and one for messages' files)."""
    found: Found = {}
    if ids := wanted.get(Entity.THREAD):
        for thread in session.scalars(select(Thread).where(Thread.id.in_(ids))):
            found[Entity.THREAD, thread.id] = (ThreadRecord.of(thread), thread.id, thread.user_id)
    if ids := wanted.get(Entity.MESSAGE):
        rows = session.scalars(select(Message).where(Message.id.in_(ids)))
        for record in _messages(session, rows):
            found[Entity.MESSAGE, record.id] = (record, record.thread_id, record.user_id)
    if ids := wanted.get(Entity.EXECUTION):
        runs = session.execute(
            select(Execution, Thread.user_id)
            .join(Thread, Thread.id == Execution.thread_id)
            .where(Execution.id.in_(ids))
        )
        for execution, user_id in runs:
            run = ExecutionRecord.of(execution)
            found[Entity.EXECUTION, execution.id] = (run, execution.thread_id, user_id)
    if ids := wanted.get(Entity.EXECUTION_LOG):
        steps = session.execute(
            select(ExecutionLog, Execution.thread_id, Thread.user_id)
            .join(Execution, Execution.id == ExecutionLog.execution_id)
            .join(Thread, Thread.id == Execution.thread_id)
            .where(ExecutionLog.id.in_(ids))
        )
        for step, thread_id, user_id in steps:
            found[Entity.EXECUTION_LOG, step.id] = (ExecutionLogRecord.of(step), thread_id, user_id)
    return found


def _messages(session: Session, rows: Iterable[Message]) -> list[MessageRecord]:
    messages = list(rows)
    files = attachment_links.for_messages(session, [m.id for m in messages])
    return [MessageRecord.of(m, attachments=files.get(m.id, ())) for m in messages]


def announced_change(
    kind: ChangeKind, entity: Entity, record: Any, thread_id: int, user_id: int, origin: str
) -> Change:
    fields: dict[str, Any] = {}
    if isinstance(record, ThreadRecord):
        fields = _thread_fields(record)
    elif isinstance(record, ExecutionLogRecord):
        fields = {"execution_id": record.execution_id, "seq": record.seq}
    return Change(kind, entity, record.id, thread_id, user_id, fields, record, origin)


def deleted_change(change: Announced, origin: str) -> Change:
    return Change(
        ChangeKind.DELETED,
        change.entity,
        change.id,
        change.thread_id,
        change.user_id,
        origin=origin,
    )


def changed_since(session: Session, since: datetime) -> Iterable[Change]:
    """Threads, then messages, then runs changed after ``since``: CREATED when they are
    newer than that, else UPDATED."""
    threads = session.scalars(
        select(Thread).where(Thread.updated_at > since).order_by(Thread.id).limit(RESYNC_LIMIT)
    )
    for thread in threads:
        record = ThreadRecord.of(thread)
        yield _resynced(Entity.THREAD, record.id, record.user_id, record, record.created_at > since)
    messages = session.scalars(
        select(Message).where(Message.updated_at > since).order_by(Message.id).limit(RESYNC_LIMIT)
    )
    for message in _messages(session, messages):
        created = message.created_at > since
        yield _resynced(Entity.MESSAGE, message.thread_id, message.user_id, message, created)
    executions = session.execute(
        select(Execution, Thread.user_id)
        .join(Thread, Thread.id == Execution.thread_id)
        .where(
            or_(
                Execution.created_at > since,
                Execution.started_at > since,
                Execution.finished_at > since,
            )
        )
        .order_by(Execution.id)
        .limit(RESYNC_LIMIT)
    )
    for execution, user_id in executions:
        run = ExecutionRecord.of(execution)
        yield _resynced(Entity.EXECUTION, run.thread_id, user_id, run, False)


def _resynced(entity: Entity, thread_id: int, user_id: int, record: Any, created: bool) -> Change:
    kind = ChangeKind.CREATED if created else ChangeKind.UPDATED
    fields: dict[str, Any] = {}
    if isinstance(record, ThreadRecord):
        fields = _thread_fields(record)
    return Change(kind, entity, record.id, thread_id, user_id, fields, record, RESYNC)


def _thread_fields(record: ThreadRecord) -> dict[str, Any]:
    """What may have changed (the writer's exact fields are not announced): the path's
    end and the title, so the open chat and the search look again."""
    return {
        "updated_at": record.updated_at,
        "current_leaf_id": record.current_leaf_id,
        "title": record.title,
    }
