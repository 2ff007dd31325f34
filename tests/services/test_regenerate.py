"""Regenerate and Edit and resend: new runs that keep the old ones, and what the model sees."""

from __future__ import annotations

import pytest

from chatdesk.services import Services
from chatdesk.services.errors import IllegalTransitionError, ValidationError
from chatdesk.services.messages import SUPERSEDED
from chatdesk.vocabulary import ExecutionStatus, MessageStatus


def _ask(services: Services, user_id: int, thread_id: int, text: str, reply: str) -> int:
    """A question answered by a run that ends ``completed``; returns the question's id."""
    sent = services.messages.send(user_id, thread_id, text)
    assert sent.execution is not None
    services.executions.start(user_id, sent.execution.id)
    services.executions.finish(user_id, sent.execution.id, ExecutionStatus.COMPLETED, text=reply)
    return sent.message.id


def test_regenerate_a_completed_reply_keeps_the_old_one_out_of_the_models_sight(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    first = _ask(services, user_id, thread.id, "one", "answer one")
    question = _ask(services, user_id, thread.id, "two", "weak answer")
    old_execution = services.messages.get(user_id, question).execution_id
    with pytest.raises(ValidationError, match="last message"):
        services.messages.regenerate(user_id, first)
    again = services.messages.regenerate(user_id, question)
    assert again.execution is not None and again.execution.id != old_execution
    assert again.message.status is MessageStatus.PENDING
    old = services.executions.get(user_id, old_execution or 0)
    assert (old.status, old.result) == (ExecutionStatus.COMPLETED, "weak answer")
    start = services.executions.start(user_id, again.execution.id)
    assert [m.content for m in start.history] == ["one", "answer one"]
    rows = services.messages.list(user_id, thread.id).messages
    weak = next(m for m in rows if m.content == "weak answer")
    assert weak.metadata[SUPERSEDED] is True and weak.status is MessageStatus.COMPLETED
    with pytest.raises(IllegalTransitionError, match="still being written"):
        services.messages.regenerate(user_id, question)
    services.executions.finish(user_id, again.execution.id, ExecutionStatus.COMPLETED, text="ok")
    nxt = services.messages.send(user_id, thread.id, "three")
    assert nxt.execution is not None
    history = services.executions.start(user_id, nxt.execution.id).history
    assert [m.content for m in history] == ["one", "answer one", "two", "ok"]


def test_completed_stays_final_for_plain_status_changes(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    question = _ask(services, user_id, thread.id, "q", "a")
    with pytest.raises(IllegalTransitionError):
        services.messages.retry(user_id, question)
    with pytest.raises(IllegalTransitionError):
        services.messages.set_status(user_id, question, MessageStatus.PENDING)


def test_edit_and_resend_the_last_message_supersedes_it_and_its_reply(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    _ask(services, user_id, thread.id, "one", "answer one")
    question = _ask(services, user_id, thread.id, "tow", "what is tow?")
    sent = services.messages.resend_edited(user_id, question, "  two  ")
    assert sent.message.content == "two"
    assert sent.message.metadata == {"edited_from": question}
    assert sent.execution is not None
    original = services.messages.get(user_id, question)
    assert (original.content, original.status) == ("tow", MessageStatus.COMPLETED)
    assert original.metadata[SUPERSEDED] is True
    history = services.executions.start(user_id, sent.execution.id).history
    assert [m.content for m in history] == ["one", "answer one"]


def test_edit_and_resend_an_earlier_message_changes_nothing_before(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    first = _ask(services, user_id, thread.id, "one", "answer one")
    _ask(services, user_id, thread.id, "two", "answer two")
    sent = services.messages.resend_edited(user_id, first, "one, again")
    assert sent.execution is not None
    history = services.executions.start(user_id, sent.execution.id).history
    assert [m.content for m in history] == ["one", "answer one", "two", "answer two"]
    reply = services.messages.add_reply(user_id, thread.id, None, "not mine to edit")
    with pytest.raises(ValidationError, match="Only a message you wrote"):
        services.messages.resend_edited(user_id, reply.id, "x")
    with pytest.raises(ValidationError, match="empty"):
        services.messages.resend_edited(user_id, first, "   ")
