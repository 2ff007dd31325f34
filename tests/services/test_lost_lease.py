"""A coordinator whose run another client took over stops it cleanly, writing nothing.

The worker is replaced by a transport the test drives (as in test_coordinator.py); the
other client is a second ``Services`` on the same SQLite file, on "another desktop".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from chatdesk.engine.protocol import ChunkEvent, CompletedEvent, ModelConfig, RunRequest
from chatdesk.runs import coordinator as coordinator_module
from chatdesk.runs.coordinator import Coordinator
from chatdesk.services import Services
from chatdesk.services.executions import INTERRUPTED_ERROR
from chatdesk.services.run_owner import RunOwner
from chatdesk.store.migrate import Store, open_store
from chatdesk.store.models import Execution
from chatdesk.vocabulary import MessageStatus

MODEL = ModelConfig(model="scripted")


class FakeTransport:
    def __init__(self) -> None:
        self.requests: list[RunRequest] = []
        self.cancelled: list[str] = []

    def submit(self, request: RunRequest) -> None:
        self.requests.append(request)

    def cancel(self, run_id: str) -> None:
        self.cancelled.append(run_id)


def _desktop(name: str) -> RunOwner:
    return RunOwner(host=name, boot_id="b00t", pid=4242, started="77", token=name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'shared.db'}")
    yield opened
    opened.close()


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def client(store: Store) -> Services:
    """The client whose coordinator runs the reply."""
    return Services(store, owner=_desktop("desk-a"))


@pytest.fixture
def coordinator(
    client: Services, transport: FakeTransport, chatdesk_loop: asyncio.AbstractEventLoop
) -> Iterator[Coordinator]:
    coordinator = Coordinator(client, transport, lambda _thread: MODEL, deadline_s=30)
    yield coordinator
    coordinator.shutdown()


def _lease(store: Store, execution_id: int) -> datetime | None:
    with store.session_factory() as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None
        return execution.lease_expires_at


def _expire(store: Store, execution_id: int) -> None:
    with store.session_factory.begin() as session:
        session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(lease_expires_at=datetime(2000, 1, 1, tzinfo=UTC))
        )


def _send(qtbot: QtBot, services: Services, transport: FakeTransport) -> tuple[int, int, str]:
    """A message sent by the coordinator's client: (user, execution id, run id)."""
    user = services.users.ensure()
    thread = services.threads.create(user, "shared")
    sent = services.messages.send(user, thread.id, "Say hello")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=5000)
    return user, sent.execution.id, transport.requests[0].run_id


def _reply_id(services: Services, user: int, execution_id: int) -> int:
    (reply,) = [
        m
        for m in services.messages.list(
            user, services.executions.get(user, execution_id).thread_id
        ).messages
        if m.role.value == "assistant"
    ]
    return reply.id


def test_a_run_taken_over_mid_stream_stops_without_overwriting(
    qtbot: QtBot,
    store: Store,
    client: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
) -> None:
    user, execution_id, run_id = _send(qtbot, client, transport)
    other = Services(store, owner=_desktop("desk-b"))
    reply_id = _reply_id(other, user, execution_id)
    coordinator.on_worker_event(ChunkEvent(run_id, 0, "Hel"))
    qtbot.waitUntil(lambda: other.messages.get(user, reply_id).content == "Hel", timeout=5000)
    _expire(store, execution_id)  # this client froze past its lease...
    assert other.executions.recover_interrupted() == 1  # ...and another took the run over
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000) as finished:
        coordinator.on_worker_event(ChunkEvent(run_id, 1, "lo, written late"))
    assert finished.args == [execution_id, "failed"]
    assert transport.cancelled == [run_id]
    assert not coordinator.is_active(execution_id)
    coordinator.on_worker_event(CompletedEvent(run_id, 2, "Hello, written late", "m", 1, 1, 2))
    qtbot.wait(300)
    kept = other.messages.get(user, reply_id)
    assert (kept.content, kept.status) == ("Hel", MessageStatus.FAILED)
    assert kept.metadata == {"error": INTERRUPTED_ERROR, "interrupted": True}


def test_a_quiet_run_keeps_its_lease_and_notices_losing_it(
    qtbot: QtBot,
    store: Store,
    client: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(coordinator_module, "RENEW_EVERY_S", 0.2)
    user, execution_id, run_id = _send(qtbot, client, transport)
    _expire(store, execution_id)
    qtbot.waitUntil(  # renewed by the timer: the run streams nothing
        lambda: (
            (_lease(store, execution_id) or datetime.min.replace(tzinfo=UTC)) > datetime.now(UTC)
        ),
        timeout=5000,
    )
    other = Services(store, owner=_desktop("desk-b"))
    assert other.executions.recover_interrupted() == 0  # a live lease: left alone
    _expire(store, execution_id)
    assert other.executions.recover_interrupted() == 1
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000) as finished:
        pass
    assert finished.args == [execution_id, "failed"]
    assert transport.cancelled == [run_id]
    assert other.executions.get(user, execution_id).error == INTERRUPTED_ERROR
