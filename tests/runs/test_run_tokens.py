"""A run that fails or is stopped keeps the tokens its model calls reported (they were
paid for); a completed run keeps the crew's own totals. The worker is replaced by a
transport the test drives, the store is a real SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.engine.protocol import (
    CancelledEvent,
    CompletedEvent,
    FailedEvent,
    ModelConfig,
    RunRequest,
    StepEvent,
)
from chatdesk.runs.coordinator import Coordinator
from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from chatdesk.vocabulary import ExecutionStatus


class FakeTransport:
    def __init__(self) -> None:
        self.requests: list[RunRequest] = []

    def submit(self, request: RunRequest) -> None:
        self.requests.append(request)

    def cancel(self, run_id: str) -> None:
        pass

    def answer(self, run_id: str, call_id: str, decision: str) -> None:
        pass


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    yield Services(store)
    store.close()


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def coordinator(
    services: Services, transport: FakeTransport, chatdesk_loop: asyncio.AbstractEventLoop
) -> Iterator[Coordinator]:
    coordinator = Coordinator(
        services, transport, lambda _thread: ModelConfig(model="scripted"), deadline_s=30
    )
    yield coordinator
    coordinator.shutdown()


def _llm_call(run_id: str, seq: int, tokens: dict[str, int]) -> StepEvent:
    stamp = datetime.now(UTC).isoformat()
    return StepEvent(run_id, seq, "llm_completed", stamp, agent_role="Assistant", tokens=tokens)


def _run(
    qtbot: QtBot,
    services: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    ending: list[FailedEvent | CancelledEvent | CompletedEvent],
) -> tuple[int | None, int | None, int | None]:
    """Send a question, play two model calls and ``ending``: the stored tokens."""
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "Hello?")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=5000)
    rid = transport.requests[0].run_id
    calls = [
        _llm_call(rid, 1, {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}),
        _llm_call(rid, 2, {"prompt_tokens": 200, "completion_tokens": 5}),
        _llm_call(rid, 3, {"total_tokens": 999}),  # a crew total carries no split: not a call
    ]
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000):
        for event in [*calls, *(dataclasses.replace(e, run_id=rid) for e in ending)]:
            coordinator.on_worker_event(event)
    run = services.executions.get(user, sent.execution.id)
    return run.prompt_tokens, run.completion_tokens, run.total_tokens


def test_a_failed_run_keeps_what_its_calls_reported(
    qtbot: QtBot, services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    failed = FailedEvent("", 4, "The provider refused the request (HTTP 400).")
    assert _run(qtbot, services, transport, coordinator, [failed]) == (320, 35, 355)


def test_a_stopped_run_keeps_what_its_calls_reported(
    qtbot: QtBot, services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    assert _run(qtbot, services, transport, coordinator, [CancelledEvent("", 4)]) == (
        320,
        35,
        355,
    )


def test_a_completed_run_keeps_the_crew_s_totals(
    qtbot: QtBot, services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    done = CompletedEvent("", 4, "Hi!", "scripted", 400, 40, 440)
    assert _run(qtbot, services, transport, coordinator, [done]) == (400, 40, 440)
    assert services.executions.get(services.users.ensure(), 1).status is ExecutionStatus.COMPLETED
