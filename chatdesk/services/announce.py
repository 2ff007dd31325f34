"""Announcing committed changes to the other clients of a shared PostgreSQL database.

Each write transaction sends its changes with ``pg_notify`` *inside* the transaction:
PostgreSQL delivers a notification only when its transaction commits, so a rolled-back
write announces nothing and a commit announces all of its changes at once. A payload
carries ids only (entity, kind, id, thread, user) and the sending client's id, so the
sender ignores its own; the others read the rows again (``services.live_sync``).
PostgreSQL refuses payloads of 8000 bytes or more, so a big transaction is cut into
several notifications of at most ``MAX_PAYLOAD_BYTES``.

A stop request (Stop pressed on a run another client owns) travels on the same channel,
addressed to the owner. SQLite has a single client: nothing is sent there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatdesk.services.events import Change, ChangeKind, Entity

CHANNEL = "chatdesk_changes"
"""The one LISTEN/NOTIFY channel of chatdesk."""
VERSION = 1
MAX_PAYLOAD_BYTES = 7000
"""Below PostgreSQL's 8000-byte limit, with room to spare."""
MAX_ID = 2**31 - 1
"""The ids are 32-bit integer columns: a bigger one is no row of chatdesk's."""
ANNOUNCE_ONLY = "chatdesk.announce_only"
"""``Session.info`` key of changes told to the other clients but not published here
(a streaming reply's once-a-second save: this client shows its live text already)."""

_ENTITY_CODES = {
    Entity.THREAD: "t",
    Entity.MESSAGE: "m",
    Entity.EXECUTION: "e",
    Entity.EXECUTION_LOG: "l",
}
"""What the other clients follow (saved prompts stay each window's own for now)."""
_KIND_CODES = {
    ChangeKind.CREATED: "c",
    ChangeKind.UPDATED: "u",
    ChangeKind.STATUS_CHANGED: "s",
    ChangeKind.DELETED: "d",
}
_ENTITIES = {code: entity for entity, code in _ENTITY_CODES.items()}
_KINDS = {code: kind for kind, code in _KIND_CODES.items()}


@dataclass(frozen=True)
class Announced:
    """One change as another client announced it: ids only."""

    kind: ChangeKind
    entity: Entity
    id: int
    thread_id: int
    user_id: int


@dataclass(frozen=True)
class StopRequest:
    """Stop asked for a run, addressed to the client that owns it."""

    execution_id: int
    thread_id: int
    user_id: int
    owner: str


@dataclass(frozen=True)
class Announcement:
    """One notification's content."""

    sender: str
    changes: tuple[Announced, ...] = ()
    stop: StopRequest | None = None


def note(session: Session, change: Change) -> None:
    """Tell the other clients about ``change`` at commit without publishing it here."""
    session.info.setdefault(ANNOUNCE_ONLY, []).append(change)


def announce(session: Session, sender: str, changes: Iterable[Change]) -> None:
    """Send the transaction's changes (and those ``note`` kept) on PostgreSQL."""
    noted: list[Change] = session.info.pop(ANNOUNCE_ONLY, [])
    if session.get_bind().dialect.name != "postgresql":
        return
    for payload in encode(sender, [*changes, *noted]):
        _notify(session, payload)


def send_stop(session: Session, sender: str, request: StopRequest) -> None:
    """Ask a run's owner to stop it, when this transaction commits (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    stop = [request.execution_id, request.thread_id, request.user_id, request.owner]
    _notify(session, json.dumps({"v": VERSION, "from": sender, "stop": stop}))


def _notify(session: Session, payload: str) -> None:
    session.execute(select(func.pg_notify(CHANNEL, payload)))


def encode(sender: str, changes: Sequence[Change]) -> Iterator[str]:
    """The payloads announcing ``changes``: each under ``MAX_PAYLOAD_BYTES``, the same
    row's same kind of change said once."""
    rows: list[list[object]] = []
    seen: set[tuple[str, str, int]] = set()
    for change in changes:
        entity = _ENTITY_CODES.get(change.entity)
        kind = _KIND_CODES.get(change.kind)
        if entity is None or kind is None or (entity, kind, change.id) in seen:
            continue
        seen.add((entity, kind, change.id))
        rows.append([entity, kind, change.id, change.thread_id, change.user_id])
    head = json.dumps({"v": VERSION, "from": sender, "x": []})
    batch: list[str] = []
    size = len(head)
    for row in rows:
        item = json.dumps(row, separators=(",", ":"))
        if batch and size + len(item) + 1 > MAX_PAYLOAD_BYTES:
            yield _payload(sender, batch)
            batch, size = [], len(head)
        batch.append(item)
        size += len(item) + 1
    if batch:
        yield _payload(sender, batch)


def _payload(sender: str, items: list[str]) -> str:
    return f'{{"v":{VERSION},"from":{json.dumps(sender)},"x":[{",".join(items)}]}}'


def decode(payload: str) -> Announcement:
    """What a notification says; ``ValueError`` for anything chatdesk did not send."""
    try:
        data = json.loads(payload)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError("not JSON") from error
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise ValueError("not a chatdesk announcement of this version")
    sender = data.get("from")
    if not isinstance(sender, str) or not sender:
        raise ValueError("no sender")
    if "stop" in data:
        return Announcement(sender, stop=_stop(data["stop"]))
    rows = data.get("x")
    if not isinstance(rows, list):
        raise ValueError("no changes")
    return Announcement(sender, tuple(_announced(row) for row in rows))


def _announced(row: object) -> Announced:
    if not (isinstance(row, list) and len(row) == 5):
        raise ValueError("a change is not [entity, kind, id, thread, user]")
    entity, kind, *ids = row
    if entity not in _ENTITIES or kind not in _KINDS or not all(_is_id(i) for i in ids):
        raise ValueError("an unknown entity, kind or id")
    return Announced(_KINDS[kind], _ENTITIES[entity], ids[0], ids[1], ids[2])


def _stop(value: object) -> StopRequest:
    if not (isinstance(value, list) and len(value) == 4):
        raise ValueError("a stop request is not [execution, thread, user, owner]")
    execution_id, thread_id, user_id, owner = value
    if not (all(_is_id(i) for i in (execution_id, thread_id, user_id)) and isinstance(owner, str)):
        raise ValueError("a stop request with bad ids")
    return StopRequest(execution_id, thread_id, user_id, owner)


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID
