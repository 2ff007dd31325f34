"""What the trace panel reads: a message's runs (old ones kept after Retry), steps in pages."""

from __future__ import annotations

import pytest

from chatdesk.services import Services
from chatdesk.services.errors import PermissionDeniedError, ValidationError
from chatdesk.services.executions import LogEntry
from chatdesk.vocabulary import ExecutionStatus

E = ExecutionStatus


def test_steps_read_in_pages(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    sent = services.messages.send(user_id, thread.id, "hi")
    assert sent.execution is not None
    run = sent.execution.id
    services.executions.append_logs(user_id, run, [LogEntry(f"step {i}") for i in range(7)])
    pages: list[list[int]] = []
    after = -1
    while page := services.executions.logs(user_id, run, after_seq=after, limit=3):
        pages.append([log.seq for log in page])
        after = page[-1].seq
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValidationError):
        services.executions.logs(user_id, run, limit=0)


def test_a_retried_message_keeps_every_run(services: Services, user_id: int) -> None:
    ex = services.executions
    thread = services.threads.create(user_id)
    sent = services.messages.send(user_id, thread.id, "try")
    assert sent.execution is not None
    first = ex.start(user_id, sent.execution.id)
    ex.finish(user_id, sent.execution.id, E.FAILED, error="boom")
    retried = services.messages.retry(user_id, sent.message.id)
    assert retried.execution is not None
    second = ex.start(user_id, retried.execution.id)
    ex.finish(user_id, retried.execution.id, E.COMPLETED, text="ok")
    both = [sent.execution.id, retried.execution.id]
    # From the question, from the failed reply, and from the good reply alike.
    for message_id in (sent.message.id, first.reply.id, second.reply.id):
        runs = ex.runs_for_message(user_id, message_id)
        assert [r.id for r in runs] == both
        assert [r.status for r in runs] == [E.FAILED, E.COMPLETED]


def test_runs_of_a_plain_message_and_of_another_user(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    note = services.messages.send(user_id, thread.id, "just a note", triggers_execution=False)
    assert services.executions.runs_for_message(user_id, note.message.id) == []
    intruder = services.users.ensure("mallory")
    with pytest.raises(PermissionDeniedError):
        services.executions.runs_for_message(intruder, note.message.id)
