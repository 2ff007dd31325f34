"""Live on every desktop: two clients on one real PostgreSQL database hear each other's
commits as the same ``Change`` events their own writes produce (``services.live_sync``)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from chatdesk.services import Services
from chatdesk.services.announce import CHANNEL, MAX_PAYLOAD_BYTES, decode, encode
from chatdesk.services.events import RESYNC, Change, ChangeKind, Entity
from chatdesk.services.executions import LogEntry
from chatdesk.services.live_sync import LiveSync
from chatdesk.services.records import ExecutionLogRecord, MessageRecord, ThreadRecord
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store import listen
from chatdesk.store.migrate import Store
from chatdesk.store.models import Thread
from chatdesk.vocabulary import ExecutionStatus
from tests.support.live_clients import Client, live_client

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(postgres_server: object | None, postgres_at_head: str | None) -> Iterator[str]:
    """A fresh PostgreSQL database at head."""
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"live_{uuid.uuid4().hex[:12]}"
    url: str = postgres_server.create_database(name, template=postgres_at_head)  # type: ignore[attr-defined]
    yield url
    postgres_server.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture
def a(pg_url: str, tmp_path: Path) -> Iterator[Client]:
    with live_client(pg_url, tmp_path / "a") as client:
        yield client


@pytest.fixture
def b(pg_url: str, tmp_path: Path) -> Iterator[Client]:
    with live_client(pg_url, tmp_path / "b") as client:
        client.wait_online()
        yield client


def _store(client: Client) -> Store:
    return client.services.store


def _from(client: Client, entity: Entity, kind: ChangeKind, id_: int):  # type: ignore[no-untyped-def]
    def found(change: Change) -> bool:
        return (
            change.entity is entity
            and change.kind is kind
            and change.id == id_
            and change.origin == client.live.client_id
        )

    return found


def test_a_message_written_by_a_appears_on_b_within_a_second(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    a.wait_online()
    started = time.perf_counter()
    thread = a.services.threads.create(user, title="Shared")
    sent = a.services.messages.send(user, thread.id, "Hello from A", triggers_execution=False)
    change = b.heard.wait_for(_from(a, Entity.MESSAGE, ChangeKind.CREATED, sent.message.id), 1.0)
    assert time.perf_counter() - started < 1.0
    assert isinstance(change.record, MessageRecord)
    assert change.record.content == "Hello from A"
    assert (change.thread_id, change.user_id) == (thread.id, user)
    created = b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.CREATED, thread.id))
    assert isinstance(created.record, ThreadRecord) and created.record.title == "Shared"
    touched = b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.UPDATED, thread.id))
    assert touched.fields["current_leaf_id"] == sent.message.id
    # A hears its own writes once, from its own bus, never again from the database
    time.sleep(0.3)  # room for an echo that must not come
    assert all(change.origin is None for change in a.heard.changes)


def test_a_rolled_back_write_announces_nothing(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    uow = UnitOfWork(_store(a).session_factory, a.services.bus, a.owner)
    with pytest.raises(RuntimeError), uow.write() as (session, changes):
        row = Thread(user_id=user, title="never")
        session.add(row)
        session.flush()
        changes.append(Change(ChangeKind.CREATED, Entity.THREAD, row.id, row.id, user))
        raise RuntimeError("the write fails after its pg_notify was queued")
    marker = a.services.threads.create(user, title="after")
    b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.CREATED, marker.id))
    assert [c.id for c in b.heard.changes if c.entity is Entity.THREAD] == [marker.id]


def test_a_streaming_reply_and_its_run_follow_on_b(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Run")
    sent = a.services.messages.send(user, thread.id, "Say hi")
    assert sent.execution is not None
    run = a.services.executions.start(user, sent.execution.id)
    a.services.executions.save_text(user, run.reply.id, "Hi so f")
    change = b.heard.wait_for(_from(a, Entity.MESSAGE, ChangeKind.UPDATED, run.reply.id))
    assert isinstance(change.record, MessageRecord) and change.record.content == "Hi so f"
    running = b.heard.wait_for(
        _from(a, Entity.EXECUTION, ChangeKind.STATUS_CHANGED, sent.execution.id)
    )
    assert running.record.status is ExecutionStatus.RUNNING
    a.services.executions.finish(user, sent.execution.id, ExecutionStatus.COMPLETED, text="Hi!")

    def ended(change: Change) -> bool:
        return (
            change.entity is Entity.EXECUTION
            and change.id == sent.execution.id  # type: ignore[union-attr]
            and change.record is not None
            and change.record.status is ExecutionStatus.COMPLETED
        )

    b.heard.wait_for(ended)


def test_run_steps_follow_on_b_for_its_run_details(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Steps")
    sent = a.services.messages.send(user, thread.id, "Plan it")
    assert sent.execution is not None
    a.services.executions.start(user, sent.execution.id)
    steps = a.services.executions.append_logs(
        user, sent.execution.id, [LogEntry("crew_started"), LogEntry("task_started", "Planner")]
    )
    for step in steps:
        change = b.heard.wait_for(_from(a, Entity.EXECUTION_LOG, ChangeKind.CREATED, step.id))
        assert isinstance(change.record, ExecutionLogRecord)
        assert change.record == step
        assert change.fields == {"execution_id": sent.execution.id, "seq": step.seq}


def test_an_unreachable_server_is_offline_and_stops_promptly(tmp_path: Path, pg_url: str) -> None:
    """The listener of a client whose server went away says so and keeps trying,
    quietly; closing the app does not wait for it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with live_client(pg_url, tmp_path / "c", listen=False) as client:
        url = client.services.store.engine.url.set(port=closed_port)
        live = LiveSync(client.services.store, client.services.bus, listen_url=url)
        states: list[bool] = []
        live.on_state(states.append)
        live.start()
        deadline = time.monotonic() + 10
        while not states:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert states == [False] and live.online is False
        started = time.monotonic()
        live.stop()
        assert time.monotonic() - started < 5
        assert live.listener is None


def test_a_chat_deleted_on_b_is_deleted_on_a_without_a_record(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Doomed")
    a.wait_online()
    b.services.threads.delete(user, thread.id)
    change = a.heard.wait_for(_from(b, Entity.THREAD, ChangeKind.DELETED, thread.id))
    assert change.record is None and change.thread_id == thread.id


def test_a_killed_listener_reconnects_and_reads_what_it_missed(
    a: Client, b: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Before")
    doomed = a.services.threads.create(user, title="Deleted while B is away")
    b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.CREATED, doomed.id))
    states: list[bool] = []
    b.live.on_state(states.append)
    monkeypatch.setattr(listen, "BACKOFF_S", (1.5,))  # offline long enough to write meanwhile
    listener = b.live.listener
    assert listener is not None and listener.backend_pid is not None
    with _store(a).engine.connect() as connection:
        connection.execute(select(func.pg_terminate_backend(listener.backend_pid)))
    deadline = time.monotonic() + 10
    while b.live.online is not False:
        assert time.monotonic() < deadline, "the lost connection was never noticed"
        time.sleep(0.01)
    missed = a.services.messages.send(
        user, thread.id, "said while B was away", triggers_execution=False
    )
    a.services.threads.rename(user, thread.id, "Renamed meanwhile")
    a.services.threads.delete(user, doomed.id)
    change = b.heard.wait_for(
        lambda c: c.entity is Entity.MESSAGE and c.id == missed.message.id, 15.0
    )
    assert change.origin == RESYNC and change.kind is ChangeKind.CREATED
    assert isinstance(change.record, MessageRecord) and change.record.content.startswith("said")
    renamed = b.heard.wait_for(
        lambda c: c.entity is Entity.THREAD and c.origin == RESYNC and c.id == thread.id
    )
    assert renamed.record.title == "Renamed meanwhile"
    gone = b.heard.wait_for(lambda c: c.kind is ChangeKind.DELETED and c.id == doomed.id)
    assert (gone.entity, gone.origin, gone.user_id, gone.record) == (
        Entity.THREAD,
        RESYNC,
        user,
        None,
    )
    assert states == [False, True]
    after = a.services.messages.send(user, thread.id, "and live again", triggers_execution=False)
    b.heard.wait_for(_from(a, Entity.MESSAGE, ChangeKind.CREATED, after.message.id))


def test_what_changed_before_the_first_listen_is_read_once_listening(
    a: Client, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window reads its lists, then starts listening: a change in between (the
    connection is slow to open) is not lost."""
    may_connect = threading.Event()
    connect = listen.Listener._connect

    def slow_connect(self: listen.Listener) -> object:
        may_connect.wait(10)
        return connect(self)

    monkeypatch.setattr(listen.Listener, "_connect", slow_connect)
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Early")
    with live_client(pg_url, tmp_path / "late") as late:
        sent = a.services.messages.send(
            user, thread.id, "before B listens", triggers_execution=False
        )
        may_connect.set()
        change = late.heard.wait_for(
            lambda c: c.id == sent.message.id and c.entity is Entity.MESSAGE
        )
        assert change.origin == RESYNC and change.kind is ChangeKind.CREATED


def test_foreign_notifications_on_the_channel_are_ignored_with_a_log_line(
    a: Client, b: Client, caplog: pytest.LogCaptureFixture
) -> None:
    user = a.services.users.ensure()
    garbage = [
        "garbage",
        "{",
        "[1, 2]",
        json.dumps({"v": 1, "from": "x", "x": [["t", "c", -1, 0, 0]]}),
        json.dumps({"v": 1, "from": "x", "x": [["m", "u", 2**70, 1, 1]]}),
        json.dumps({"v": 1, "from": "x", "x": [["m", "u", 2**31, 1, 1]]}),
        json.dumps({"v": 1, "from": "x", "x": [["m", "u", "1", 1, 1]]}),
        json.dumps({"v": 1, "from": "x", "stop": ["drop table", 1, 1, "me"]}),
        json.dumps({"v": 99, "from": "x", "x": []}),
        "[" * 5000,
    ]
    with caplog.at_level(logging.WARNING), _store(a).engine.begin() as connection:
        for payload in garbage:
            connection.execute(select(func.pg_notify(CHANNEL, payload)))
    marker = a.services.threads.create(user, title="still alive")
    b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.CREATED, marker.id))
    ignored = [r for r in caplog.records if "did not send" in r.getMessage()]
    assert len(ignored) == 2 * len(garbage)  # A listens too: each said so once
    assert b.live.online is True


def test_an_announcement_for_rows_it_cannot_see_publishes_nothing(a: Client, b: Client) -> None:
    """A well-formed announcement of a row that is gone (or another person's, hidden by
    row-level security) is read as nothing; its deletion, when it comes, still counts."""
    user = a.services.users.ensure()
    payload = json.dumps({"v": 1, "from": "someone", "x": [["m", "u", 987654, 1, user]]})
    with _store(a).engine.begin() as connection:
        connection.execute(select(func.pg_notify(CHANNEL, payload)))
    marker = a.services.threads.create(user, title="marker")
    b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.CREATED, marker.id))
    assert not [c for c in b.heard.changes if c.id == 987654]


def test_a_forged_announcement_cannot_misplace_or_delete_a_row(a: Client, b: Client) -> None:
    """The ids announced only say what to read again: the thread and user published are
    the row's, and a deletion counts only when the row is gone."""
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Real")
    sent = a.services.messages.send(user, thread.id, "mine", triggers_execution=False)
    lies = [
        ["m", "u", sent.message.id, 999, 999],  # another chat and person
        ["t", "d", thread.id, thread.id, user],  # a deletion that did not happen
    ]
    payload = json.dumps({"v": 1, "from": "liar", "x": lies})
    with _store(a).engine.begin() as connection:
        connection.execute(select(func.pg_notify(CHANNEL, payload)))
    marker = a.services.threads.create(user, title="marker")
    b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.CREATED, marker.id))
    heard = [c for c in b.heard.changes if c.origin == "liar"]
    assert [(c.kind, c.entity, c.id, c.thread_id, c.user_id) for c in heard] == [
        (ChangeKind.UPDATED, Entity.MESSAGE, sent.message.id, thread.id, user)
    ]


def test_a_big_transaction_is_announced_in_payloads_postgres_accepts(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Many")
    changes = [
        Change(ChangeKind.UPDATED, Entity.MESSAGE, 10**9 + i, thread.id, user) for i in range(3000)
    ]
    payloads = list(encode("sender-id", changes))
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD_BYTES for p in payloads)
    assert [c.id for p in payloads for c in decode(p).changes] == [c.id for c in changes]
    uow = UnitOfWork(_store(a).session_factory, a.services.bus, a.owner)
    with uow.write() as (_session, written):  # the real server takes them all at once
        written.extend(changes)
        written.append(Change(ChangeKind.UPDATED, Entity.THREAD, thread.id, thread.id, user))
    b.heard.wait_for(_from(a, Entity.THREAD, ChangeKind.UPDATED, thread.id))


def test_stop_pressed_on_b_is_heard_by_the_owner_only(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Long run")
    sent = a.services.messages.send(user, thread.id, "Write a lot")
    assert sent.execution is not None
    a.services.executions.start(user, sent.execution.id)
    a.wait_online()
    assert b.live.request_stop(user, sent.execution.id) is True
    change = a.heard.wait_for(
        lambda c: c.kind is ChangeKind.STOP_REQUESTED and c.id == sent.execution.id  # type: ignore[union-attr]
    )
    assert (change.thread_id, change.user_id, change.origin) == (thread.id, user, b.live.client_id)
    a.services.executions.finish(user, sent.execution.id, ExecutionStatus.CANCELLED, text="")
    assert b.live.request_stop(user, sent.execution.id) is False  # ended: nobody to ask
    assert not [c for c in b.heard.changes if c.kind is ChangeKind.STOP_REQUESTED]


def test_stop_on_a_run_whose_owner_is_gone_ends_it_here_with_its_text(a: Client, b: Client) -> None:
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Crashed")
    sent = a.services.messages.send(user, thread.id, "Go on")
    assert sent.execution is not None
    run = a.services.executions.start(user, sent.execution.id)
    a.services.executions.save_text(user, run.reply.id, "Half an ans")
    with _store(a).engine.begin() as connection:  # A froze past its lease
        connection.execute(
            text("UPDATE executions SET lease_expires_at = now() - interval '1 minute'")
        )
    assert b.live.request_stop(user, sent.execution.id) is True
    ended = b.services.executions.get(user, sent.execution.id)
    assert ended.status is ExecutionStatus.CANCELLED
    reply = b.services.messages.list(user, thread.id).messages[-1]
    assert reply.content == "Half an ans"
    assert not [c for c in a.heard.changes if c.kind is ChangeKind.STOP_REQUESTED]

    def cancelled(change: Change) -> bool:
        record = change.record
        return (
            change.entity is Entity.EXECUTION
            and change.origin == b.live.client_id
            and getattr(record, "status", None) is ExecutionStatus.CANCELLED
        )

    a.heard.wait_for(cancelled)  # and A's window shows the end


def test_on_sqlite_nothing_listens_or_announces(tmp_path: Path) -> None:
    from chatdesk.store.migrate import open_store

    store = open_store(f"sqlite:///{tmp_path / 'one.db'}")
    try:
        services = Services(store, attachments_dir=tmp_path / "attachments")
        live = LiveSync(store, services.bus)
        live.start()
        assert live.listener is None and live.online is None
        user = services.users.ensure()
        thread = services.threads.create(user, title="alone")
        sent = services.messages.send(user, thread.id, "hi")
        assert sent.execution is not None
        assert live.request_stop(user, sent.execution.id) is False
        with store.engine.connect() as connection:
            assert connection.execute(text("select 1")).scalar_one() == 1
        live.stop()
    finally:
        store.close()
