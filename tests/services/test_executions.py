"""Runs through the service: start, steps in order, partial text, every ending, recovery."""

from __future__ import annotations

import pytest

from chatdesk.services import Services
from chatdesk.services.errors import IllegalTransitionError, PermissionDeniedError
from chatdesk.services.events import ChangeKind, ChangeRecorder, Entity
from chatdesk.services.executions import INTERRUPTED_ERROR, LogEntry, Tokens
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role

E = ExecutionStatus
M = MessageStatus


def _sent(services: Services, user_id: int, text: str = "hi") -> tuple[int, int]:
    thread = services.threads.create(user_id, system_prompt="Be brief.")
    result = services.messages.send(user_id, thread.id, text)
    assert result.execution is not None
    return thread.id, result.execution.id


def test_a_run_from_start_to_completion(services: Services, user_id: int) -> None:
    thread_id, execution_id = _sent(services, user_id)
    assert [e.id for e in services.executions.pending(user_id)] == [execution_id]
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    run = services.executions.start(user_id, execution_id)
    assert run.execution.status is E.RUNNING and run.execution.started_at is not None
    assert run.trigger.status is M.PROCESSING
    assert run.reply.role is Role.ASSISTANT and run.reply.status is M.PROCESSING
    assert run.system_prompt == "Be brief."
    assert services.executions.pending(user_id) == []
    services.executions.append_logs(
        user_id, execution_id, [LogEntry("crew_started"), LogEntry("task_started", "Writer", "t")]
    )
    services.executions.append_logs(user_id, execution_id, [LogEntry("crew_completed")])
    services.executions.save_text(user_id, run.reply.id, "Hel")
    assert services.messages.get(user_id, run.reply.id).content == "Hel"
    done = services.executions.finish(
        user_id,
        execution_id,
        E.COMPLETED,
        text="Hello!",
        model="scripted",
        tokens=Tokens(10, 5, 15),
    )
    assert done.status is E.COMPLETED and done.result == "Hello!" and done.total_tokens == 15
    assert done.finished_at is not None and done.model == "scripted"
    assert services.messages.get(user_id, run.trigger.id).status is M.COMPLETED
    reply = services.messages.get(user_id, run.reply.id)
    assert (reply.content, reply.status) == ("Hello!", M.COMPLETED)
    logs = services.executions.logs(user_id, execution_id)
    assert [(log.seq, log.event) for log in logs] == [
        (0, "crew_started"),
        (1, "task_started"),
        (2, "crew_completed"),
    ]
    assert logs[1].agent_role == "Writer"
    assert [log.seq for log in services.executions.logs(user_id, execution_id, after_seq=0)] == [
        1,
        2,
    ]
    kinds = [(c.kind, c.entity) for c in recorder.changes]
    assert kinds[:3] == [
        (ChangeKind.STATUS_CHANGED, Entity.EXECUTION),
        (ChangeKind.STATUS_CHANGED, Entity.MESSAGE),
        (ChangeKind.CREATED, Entity.MESSAGE),
    ]
    assert thread_id == run.reply.thread_id


@pytest.mark.parametrize("end", [E.FAILED, E.CANCELLED])
def test_a_failed_or_stopped_run_keeps_its_partial_text(
    services: Services, user_id: int, end: ExecutionStatus
) -> None:
    _thread_id, execution_id = _sent(services, user_id)
    run = services.executions.start(user_id, execution_id)
    services.executions.save_text(user_id, run.reply.id, "The first half")
    error = "The model server answered 500." if end is E.FAILED else None
    services.executions.finish(user_id, execution_id, end, error=error)
    reply = services.messages.get(user_id, run.reply.id)
    assert reply.content == "The first half"
    assert reply.status.value == end.value
    assert reply.metadata.get("error") == error
    trigger = services.messages.get(user_id, run.trigger.id)
    assert trigger.status.value == end.value
    retried = services.messages.retry(user_id, trigger.id)
    assert retried.execution is not None
    assert services.executions.get(user_id, execution_id).status is end  # old run kept


def test_a_run_cannot_finish_twice_or_start_twice(services: Services, user_id: int) -> None:
    _thread_id, execution_id = _sent(services, user_id)
    services.executions.start(user_id, execution_id)
    with pytest.raises(IllegalTransitionError):
        services.executions.start(user_id, execution_id)
    services.executions.finish(user_id, execution_id, E.CANCELLED)
    with pytest.raises(IllegalTransitionError):
        services.executions.finish(user_id, execution_id, E.COMPLETED, text="late")


def test_interrupted_runs_are_recovered_with_their_text(services: Services, user_id: int) -> None:
    _t1, running = _sent(services, user_id, "first")
    _t2, waiting = _sent(services, user_id, "second")
    _t3, finished = _sent(services, user_id, "third")
    run = services.executions.start(user_id, running)
    services.executions.save_text(user_id, run.reply.id, "half a rep")
    done = services.executions.start(user_id, finished)
    services.executions.finish(user_id, finished, E.COMPLETED, text="ok")
    assert services.executions.recover_interrupted() == 2
    for execution_id in (running, waiting):
        record = services.executions.get(user_id, execution_id)
        assert (record.status, record.error) == (E.FAILED, INTERRUPTED_ERROR)
    reply = services.messages.get(user_id, run.reply.id)
    assert reply.content == "half a rep" and reply.status is M.FAILED
    assert reply.metadata == {"error": INTERRUPTED_ERROR, "interrupted": True}
    assert services.messages.get(user_id, run.trigger.id).status is M.FAILED
    assert services.messages.get(user_id, done.reply.id).status is M.COMPLETED
    assert services.executions.recover_interrupted() == 0


def test_another_user_cannot_drive_a_run(services: Services, user_id: int) -> None:
    _thread_id, execution_id = _sent(services, user_id)
    intruder = services.users.ensure("mallory")
    with pytest.raises(PermissionDeniedError):
        services.executions.start(intruder, execution_id)
    with pytest.raises(PermissionDeniedError):
        services.executions.logs(intruder, execution_id)
    assert services.executions.pending(intruder) == []
