"""The coordinator's own logic, with the worker replaced by a transport the test drives.

(End-to-end runs through the real worker process and real CrewAI live in tests/engine
and tests/test_runs.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from chatdesk.engine.protocol import (
    CancelledEvent,
    ChunkEvent,
    CompletedEvent,
    FailedEvent,
    ModelConfig,
    ResetEvent,
    RunRequest,
    StatusEvent,
    StepEvent,
)
from chatdesk.runs.coordinator import NO_MODEL_ERROR, Coordinator
from chatdesk.services import Services
from chatdesk.services.events import ChangeKind, ChangeRecorder, Entity
from chatdesk.services.records import ThreadRecord
from chatdesk.store.migrate import open_store
from chatdesk.vocabulary import ExecutionStatus, MessageStatus
from tests.support.faults import hold_exclusive_lock, sqlite_file

MODEL = ModelConfig(model="scripted")


class FakeTransport:
    def __init__(self) -> None:
        self.requests: list[RunRequest] = []
        self.cancelled: list[str] = []

    def submit(self, request: RunRequest) -> None:
        self.requests.append(request)

    def cancel(self, run_id: str) -> None:
        self.cancelled.append(run_id)


@pytest.fixture
def sqlite_services(tmp_path: Path) -> Iterator[Services]:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    yield Services(store)
    store.close()


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def coordinator(
    sqlite_services: Services,
    transport: FakeTransport,
    chatdesk_loop: asyncio.AbstractEventLoop,
) -> Iterator[Coordinator]:
    coordinator = Coordinator(sqlite_services, transport, lambda _thread: MODEL, deadline_s=30)
    yield coordinator
    coordinator.shutdown()


def _step(run_id: str, seq: int, name: str) -> StepEvent:
    return StepEvent(run_id, seq, name, datetime.now(UTC).isoformat(), agent_role="Assistant")


def test_a_run_streams_and_completes(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user, system_prompt="Be kind.")
    services.messages.send(user, thread.id, "first", triggers_execution=False)
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    texts: list[str] = []
    coordinator.reply_text_changed.connect(lambda _id, text: texts.append(text))
    sent = services.messages.send(user, thread.id, "Say hello")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    request = transport.requests[0]
    assert request.message == "Say hello"
    assert request.system_prompt == "Be kind."
    assert [(m.role, m.content) for m in request.history] == [("user", "first")]
    rid = request.run_id
    events = [
        StatusEvent(rid, 0),
        _step(rid, 1, "crew_started"),
        ChunkEvent(rid, 2, "Thought: hmm"),
        ResetEvent(rid, 3),
        ChunkEvent(rid, 4, "Hel"),
        ChunkEvent(rid, 5, "lo!"),
        _step(rid, 6, "crew_completed"),
    ]
    for event in events:
        coordinator.on_worker_event(event)
    qtbot.waitUntil(lambda: bool(texts) and texts[-1] == "Hello!", timeout=3000)
    with qtbot.waitSignal(coordinator.run_finished, timeout=3000) as finished:
        coordinator.on_worker_event(CompletedEvent(rid, 7, "Hello!", "scripted", 3, 2, 5))
    assert finished.args == [sent.execution.id, "completed"]
    execution = services.executions.get(user, sent.execution.id)
    assert execution.status is ExecutionStatus.COMPLETED and execution.total_tokens == 5
    logs = services.executions.logs(user, sent.execution.id)
    assert [log.event for log in logs] == ["crew_started", "crew_completed"]
    messages = services.messages.list(user, thread.id).messages
    assert [(m.role.value, m.content, m.status.value) for m in messages[-2:]] == [
        ("user", "Say hello", "completed"),
        ("assistant", "Hello!", "completed"),
    ]
    statuses = [
        (c.entity, c.fields.get("status"))
        for c in recorder.changes
        if c.kind is ChangeKind.STATUS_CHANGED
    ]
    assert statuses == [
        (Entity.EXECUTION, ExecutionStatus.RUNNING),
        (Entity.MESSAGE, MessageStatus.PROCESSING),
        (Entity.EXECUTION, ExecutionStatus.COMPLETED),
        (Entity.MESSAGE, MessageStatus.COMPLETED),
        (Entity.MESSAGE, MessageStatus.COMPLETED),
    ]
    assert len(texts) < len(events)  # coalesced, not one signal per chunk


def test_stop_keeps_partial_text_and_ignores_what_comes_after(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "Tell a long story")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    rid = transport.requests[0].run_id
    coordinator.on_worker_event(ChunkEvent(rid, 0, "Once upon"))
    qtbot.waitUntil(lambda: coordinator.live_text_for(sent.execution.id) == "Once upon")
    with qtbot.waitSignal(coordinator.run_finished, timeout=2000) as finished:
        coordinator.cancel(sent.execution.id)
    assert finished.args == [sent.execution.id, "cancelled"]
    assert transport.cancelled == [rid]
    coordinator.on_worker_event(ChunkEvent(rid, 1, " a time"))
    coordinator.on_worker_event(CancelledEvent(rid, 2))
    qtbot.wait(50)
    reply = services.messages.list(user, thread.id).messages[-1]
    assert (reply.content, reply.status) == ("Once upon", MessageStatus.CANCELLED)
    assert services.messages.get(user, sent.message.id).status is MessageStatus.CANCELLED


def test_a_failure_is_kept_with_its_error(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "hi")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    rid = transport.requests[0].run_id
    coordinator.on_worker_event(ChunkEvent(rid, 0, "Partial"))
    with qtbot.waitSignal(coordinator.run_finished, timeout=2000):
        coordinator.on_worker_event(FailedEvent(rid, 1, "The model server answered 500."))
    execution = services.executions.get(user, sent.execution.id)
    assert execution.error == "The model server answered 500."
    reply = services.messages.list(user, thread.id).messages[-1]
    assert reply.content == "Partial"
    assert reply.metadata["error"] == "The model server answered 500."


def test_runs_in_one_thread_queue_and_threads_run_concurrently(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    services = sqlite_services
    user = services.users.ensure()
    a = services.threads.create(user, "a")
    b = services.threads.create(user, "b")
    c = services.threads.create(user, "c")
    services.messages.send(user, a.id, "a1")
    services.messages.send(user, a.id, "a2")
    services.messages.send(user, b.id, "b1")
    services.messages.send(user, c.id, "c1")
    qtbot.waitUntil(lambda: len(transport.requests) == 2, timeout=3000)
    qtbot.wait(100)
    assert [r.message for r in transport.requests] == ["a1", "b1"]  # limit 2, a2 waits for a1
    first = transport.requests[0]
    coordinator.on_worker_event(CompletedEvent(first.run_id, 0, "done", "scripted"))
    qtbot.waitUntil(lambda: len(transport.requests) == 3, timeout=3000)
    assert transport.requests[2].message in {"a2", "c1"}


def test_no_model_configured_fails_with_a_clear_message(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, chatdesk_loop: object
) -> None:
    def no_model(_thread: ThreadRecord) -> ModelConfig | None:
        return None

    coordinator = Coordinator(sqlite_services, transport, no_model)
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    with qtbot.waitSignal(coordinator.run_finished, timeout=3000):
        sent = services.messages.send(user, thread.id, "hi")
    assert sent.execution is not None
    assert services.executions.get(user, sent.execution.id).error == NO_MODEL_ERROR
    assert transport.requests == []
    coordinator.shutdown()


def test_deadline_ends_a_silent_run(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, chatdesk_loop: object
) -> None:
    coordinator = Coordinator(sqlite_services, transport, lambda _t: MODEL, deadline_s=0.2)
    coordinator.grace_s = 0.1
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "hi")
    assert sent.execution is not None
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000) as finished:
        pass
    assert finished.args == [sent.execution.id, "failed"]
    assert "No answer within" in (services.executions.get(user, sent.execution.id).error or "")
    assert transport.cancelled == [transport.requests[0].run_id]
    coordinator.shutdown()


def test_a_reply_that_cannot_be_saved_still_ends_the_run(
    qtbot: QtBot,
    sqlite_services: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "hi")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    original = services.executions.finish

    def finish_refusing_text(*args: object, **kwargs: object) -> object:
        if kwargs.get("text") is not None:
            raise OSError("disk full")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services.executions, "finish", finish_refusing_text)
    with qtbot.waitSignal(coordinator.run_finished, timeout=2000) as finished:
        coordinator.on_worker_event(CompletedEvent(transport.requests[0].run_id, 1, "x", "m"))
    assert finished.args == [sent.execution.id, "failed"]
    execution = services.executions.get(user, sent.execution.id)
    assert execution.status is ExecutionStatus.FAILED
    assert "could not save this reply: disk full" in (execution.error or "")


def _running(
    qtbot: QtBot, services: Services, transport: FakeTransport, text: str = "hi"
) -> tuple[int, int, int, str]:
    """(user, thread, execution id, run id) of a message's run, submitted to the worker."""
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, text)
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    return user, thread.id, sent.execution.id, transport.requests[0].run_id


def test_a_reply_past_the_limit_keeps_its_text_to_the_limit_and_stops_the_worker(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    coordinator.max_reply_chars = 10
    services = sqlite_services
    user, thread_id, execution_id, rid = _running(qtbot, services, transport)
    coordinator.on_worker_event(ChunkEvent(rid, 0, "0123456"))
    with qtbot.waitSignal(coordinator.run_finished, timeout=3000) as finished:
        coordinator.on_worker_event(ChunkEvent(rid, 1, "789abc"))
    assert finished.args == [execution_id, "failed"]
    assert transport.cancelled == [rid]  # the worker stops reading the provider
    execution = services.executions.get(user, execution_id)
    assert execution.error == (
        "The reply passed the limit of 10 characters and was stopped; "
        "its first 10 characters are kept."
    )
    reply = services.messages.list(user, thread_id).messages[-1]
    assert (reply.content, reply.status) == ("0123456789", MessageStatus.FAILED)
    assert reply.metadata["error"] == execution.error


def test_a_final_text_past_the_limit_is_kept_to_the_limit(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    coordinator.max_reply_chars = 5
    services = sqlite_services
    user, thread_id, execution_id, rid = _running(qtbot, services, transport)
    with qtbot.waitSignal(coordinator.run_finished, timeout=3000) as finished:
        coordinator.on_worker_event(CompletedEvent(rid, 0, "abcdefgh", "scripted"))
    assert finished.args == [execution_id, "failed"]
    reply = services.messages.list(user, thread_id).messages[-1]
    assert (reply.content, reply.status) == ("abcde", MessageStatus.FAILED)
    assert "limit of 5 characters" in (services.executions.get(user, execution_id).error or "")


def test_a_failed_save_mid_stream_ends_the_run_and_stops_the_worker(
    qtbot: QtBot,
    sqlite_services: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = sqlite_services
    user, thread_id, execution_id, rid = _running(qtbot, services, transport)

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(services.executions, "save_text", disk_full)
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000) as finished:
        coordinator.on_worker_event(ChunkEvent(rid, 0, "Saved at the end"))
    assert finished.args == [execution_id, "failed"]
    assert transport.cancelled == [rid]
    execution = services.executions.get(user, execution_id)
    assert execution.error == "chatdesk could not save this reply: disk full"
    reply = services.messages.list(user, thread_id).messages[-1]
    assert (reply.content, reply.status) == ("Saved at the end", MessageStatus.FAILED)


def test_a_deleted_thread_stops_its_run_in_the_worker(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    services = sqlite_services
    user, thread_id, execution_id, rid = _running(qtbot, services, transport)
    services.threads.delete(user, thread_id)
    assert transport.cancelled == [rid]
    assert not coordinator.is_active(execution_id)


def test_progress_saves_refused_by_a_locked_database_wait_and_lose_nothing(
    qtbot: QtBot,
    sqlite_services: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another connection holds the database mid-stream: every periodic save fails busy,
    the run goes on, and once the lock is gone the whole reply and every step are stored."""
    monkeypatch.setattr("chatdesk.runs.coordinator.SAVE_EVERY_S", 0.0)
    monkeypatch.setattr("chatdesk.runs.coordinator.LOG_FLUSH_EVERY_S", 0.0)
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "hi")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    rid = transport.requests[0].run_id
    with hold_exclusive_lock(sqlite_file(services)):
        for seq, word in enumerate(("one ", "two ", "three"), start=1):
            coordinator.on_worker_event(_step(rid, 2 * seq, f"step_{seq}"))
            coordinator.on_worker_event(ChunkEvent(rid, 2 * seq + 1, word))
        qtbot.wait(300)
        assert coordinator.is_active(sent.execution.id)
    with qtbot.waitSignal(coordinator.run_finished, timeout=3000) as finished:
        coordinator.on_worker_event(CompletedEvent(rid, 9, "one two three", "scripted"))
    assert finished.args == [sent.execution.id, "completed"]
    reply = services.messages.list(user, thread.id).messages[-1]
    assert (reply.content, reply.status) == ("one two three", MessageStatus.COMPLETED)
    steps = services.executions.logs(user, sent.execution.id)
    assert [s.event for s in steps] == ["step_1", "step_2", "step_3"]


def test_a_run_whose_end_cannot_be_stored_says_so(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "hi")
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    with (
        hold_exclusive_lock(sqlite_file(services)),
        qtbot.waitSignal(coordinator.save_failed, timeout=3000) as refused,
    ):
        coordinator.on_worker_event(CompletedEvent(transport.requests[0].run_id, 1, "x", "m"))
    assert refused.args[0] == sent.execution.id
    assert "busy" in refused.args[1]
    reply = services.messages.list(user, thread.id).messages[-1]
    assert coordinator.live_text(reply.id) == "x"  # on screen, as the window says


def test_a_run_that_starts_while_another_program_holds_the_database_waits_for_it(
    qtbot: QtBot, sqlite_services: Services, transport: FakeTransport, coordinator: Coordinator
) -> None:
    services = sqlite_services
    user = services.users.ensure()
    thread = services.threads.create(user)
    sent = services.messages.send(user, thread.id, "hi")  # the run starts on the next turn
    assert sent.execution is not None
    with contextlib.ExitStack() as lock:
        lock.enter_context(hold_exclusive_lock(sqlite_file(services)))  # before that turn
        QTimer.singleShot(600, lock.close)
        qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=10_000)
    assert services.executions.get(user, sent.execution.id).status is ExecutionStatus.RUNNING
