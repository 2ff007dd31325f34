"""The rows of a deleted branch, kept for Undo and put back exactly.

Why copies and not a delay: a branch delete changes the path at once (the next version
shows), so the window and every other client see the chat as it will be; Undo then
writes the same rows back (same ids, so Run details, search and other windows find
them as they were). Ids freed by a delete are never handed out again by PostgreSQL;
SQLite may reuse the highest ones for a message sent meanwhile, and then Undo says the
chat changed instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, select
from sqlalchemy.orm import Session

from chatdesk.services import attachment_links as links
from chatdesk.services.errors import ValidationError
from chatdesk.store.models import Execution, ExecutionLog, Message

UNDO_LIMIT = 5_000
"""Messages a delete keeps for Undo; a larger branch is said to be final beforehand."""
CHANGED = (
    "The chat changed since that delete (a message took its place, or the message it "
    "followed is gone); it cannot be undone."
)


@dataclass(frozen=True)
class KeptRows:
    """A branch's rows as the database held them, and the thread's leaf before."""

    messages: tuple[Mapping[str, Any], ...]
    executions: tuple[Mapping[str, Any], ...]
    logs: tuple[Mapping[str, Any], ...]
    leaf: int | None
    links: tuple[Mapping[str, Any], ...] = ()
    """The messages' attachment links (their files are held meanwhile)."""

    def attachment_ids(self) -> set[int]:
        return {row["attachment_id"] for row in self.links}


def _table(model: type[Message] | type[Execution] | type[ExecutionLog]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def capture(
    session: Session,
    in_branch: ColumnElement[bool],
    params: Mapping[str, Any],
    runs: Sequence[int],
    leaf: int | None,
) -> KeptRows:
    """The rows ``delete_branch`` is about to delete."""
    messages, executions, logs = (_table(m) for m in (Message, Execution, ExecutionLog))
    message_rows = session.execute(select(messages).where(in_branch), params).mappings().all()
    run_rows = session.execute(select(executions).where(executions.c.id.in_(runs))).mappings()
    log_rows = session.execute(select(logs).where(logs.c.execution_id.in_(runs))).mappings()
    return KeptRows(
        tuple(dict(row) for row in message_rows),
        tuple(dict(row) for row in run_rows.all()),
        tuple(dict(row) for row in log_rows.all()),
        leaf,
        links.links_of(session, in_branch, params),
    )


def put_back(session: Session, kept: KeptRows) -> None:
    """Insert the kept rows again: runs, their steps, messages parents first, then
    their attachment links."""
    messages, executions, logs = (_table(m) for m in (Message, Execution, ExecutionLog))
    ids = [row["id"] for row in kept.messages]
    taken = session.scalar(select(messages.c.id).where(messages.c.id.in_(ids)).limit(1))
    outside = {row["parent_id"] for row in kept.messages} - set(ids) - {None}
    present = set(session.scalars(select(messages.c.id).where(messages.c.id.in_(outside))))
    if taken is not None or present != outside:  # a place taken, or the parent gone
        raise ValidationError(CHANGED)
    if kept.executions:
        session.execute(insert(executions), list(kept.executions))
    if kept.logs:
        session.execute(insert(logs), list(kept.logs))
    for row in _parents_first(kept.messages):  # one by one: each parent is there first
        session.execute(insert(messages), [dict(row)])
    links.put_back(session, kept.links)


def _parents_first(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    present = {row["id"] for row in rows}
    children: dict[int | None, list[Mapping[str, Any]]] = {}
    roots = []
    for row in sorted(rows, key=lambda r: r["id"]):
        if row["parent_id"] in present:
            children.setdefault(row["parent_id"], []).append(row)
        else:
            roots.append(row)
    ordered: list[Mapping[str, Any]] = []
    todo = list(reversed(roots))
    while todo:
        row = todo.pop()
        ordered.append(row)
        todo.extend(reversed(children.get(row["id"], [])))
    return ordered
