"""Runs belong to the client running them, on a shared PostgreSQL: another desktop sees
the run but never starts it, its Stop reaches the owner through NOTIFY, and deleting the
chat there ends the run in the owner's worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.engine.protocol import ChunkEvent, ModelConfig, RunRequest
from chatdesk.runs.coordinator import Coordinator
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.ui.tasks import gui_thread_calls
from chatdesk.vocabulary import ExecutionStatus, MessageStatus
from tests.support.live_clients import Client, live_client

pytestmark = pytest.mark.postgres

MODEL = ModelConfig(model="scripted")


class FakeTransport:
    def __init__(self) -> None:
        self.requests: list[RunRequest] = []
        self.cancelled: list[str] = []

    def submit(self, request: RunRequest) -> None:
        self.requests.append(request)

    def cancel(self, run_id: str) -> None:
        self.cancelled.append(run_id)


class Desktop:
    """One client with its coordinator, as the app wires them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.services = client.services
        self.transport = FakeTransport()
        self.services.bus.deliver_with(gui_thread_calls().post)  # changes on the GUI thread
        self.coordinator = Coordinator(
            self.services, self.transport, lambda _thread: MODEL, deadline_s=60
        )
        user = self.services.users.ensure()
        self.coordinator.stop_elsewhere_with(lambda run: client.live.request_stop(user, run))


@pytest.fixture
def pg_url(postgres_server: object | None, postgres_at_head: str | None) -> Iterator[str]:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"runs_{uuid.uuid4().hex[:12]}"
    url: str = postgres_server.create_database(name, template=postgres_at_head)  # type: ignore[attr-defined]
    yield url
    postgres_server.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture
def desktops(
    pg_url: str, tmp_path: Path, chatdesk_loop: asyncio.AbstractEventLoop
) -> Iterator[tuple[Desktop, Desktop]]:
    with live_client(pg_url, tmp_path / "a") as a, live_client(pg_url, tmp_path / "b") as b:
        a.wait_online()
        b.wait_online()
        pair = Desktop(a), Desktop(b)
        try:
            yield pair
        finally:
            for desktop in pair:
                desktop.coordinator.shutdown()


def _run_on_a(qtbot: QtBot, a: Desktop, b: Desktop) -> tuple[int, int, int, str]:
    """(user, thread, execution, run id) of a run A started and streams, seen on B."""
    user = a.services.users.ensure()
    thread = a.services.threads.create(user, title="Long answer")
    sent = a.services.messages.send(user, thread.id, "Tell me everything")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(a.transport.requests) == 1, timeout=5000)
    run_id = a.transport.requests[0].run_id
    a.coordinator.on_worker_event(ChunkEvent(run_id, 0, "Once upon"))
    execution_id = sent.execution.id
    qtbot.waitUntil(lambda: a.coordinator.live_text_for(execution_id) == "Once upon")
    qtbot.waitUntil(
        lambda: b.client.heard.has(
            lambda c: (
                c.entity is Entity.EXECUTION
                and c.id == execution_id
                and c.kind is ChangeKind.CREATED
            )
        ),
        timeout=5000,
    )
    return user, thread.id, execution_id, run_id


def test_another_desktop_sees_a_run_but_never_starts_it(
    qtbot: QtBot, desktops: tuple[Desktop, Desktop]
) -> None:
    a, b = desktops
    _user, _thread, execution_id, _run_id = _run_on_a(qtbot, a, b)
    qtbot.wait(200)  # B's loop had its chance to (wrongly) pick the run up
    assert b.transport.requests == []
    assert not b.coordinator.is_active(execution_id)
    assert a.coordinator.is_active(execution_id)


def test_stop_pressed_on_b_ends_as_run_in_as_worker(
    qtbot: QtBot, desktops: tuple[Desktop, Desktop]
) -> None:
    a, b = desktops
    user, thread_id, execution_id, run_id = _run_on_a(qtbot, a, b)
    b.coordinator.cancel(execution_id)  # what B's Stop button does
    qtbot.waitUntil(lambda: a.transport.cancelled == [run_id], timeout=5000)
    assert not a.coordinator.is_active(execution_id)
    run = a.services.executions.get(user, execution_id)
    assert run.status is ExecutionStatus.CANCELLED
    reply = a.services.messages.list(user, thread_id).messages[-1]
    assert (reply.status, reply.content) == (MessageStatus.CANCELLED, "Once upon")

    def ended(change: Change) -> bool:
        record = getattr(change, "record", None)
        return getattr(record, "status", None) is ExecutionStatus.CANCELLED

    qtbot.waitUntil(lambda: b.client.heard.has(ended), timeout=5000)  # B shows the end


def test_a_chat_deleted_on_b_ends_its_run_in_as_worker(
    qtbot: QtBot, desktops: tuple[Desktop, Desktop]
) -> None:
    a, b = desktops
    user, thread_id, execution_id, run_id = _run_on_a(qtbot, a, b)
    b.services.threads.delete(user, thread_id)
    qtbot.waitUntil(lambda: a.transport.cancelled == [run_id], timeout=5000)
    assert not a.coordinator.is_active(execution_id)
