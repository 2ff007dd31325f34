"""The send, retry and regenerate use cases on a real database, with no window."""

from __future__ import annotations

import pytest

from chatdesk.services import Services
from chatdesk.services.conversation import Outgoing
from chatdesk.services.errors import IllegalTransitionError, ValidationError
from chatdesk.services.messages import MAX_USER_CONTENT_CHARS
from chatdesk.services.records import MessageRecord, Version
from chatdesk.services.rerun_rules import regenerate_target, retry_target
from chatdesk.services.threads import DEFAULT_TITLE
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role


def _end(services: Services, user_id: int, execution_id: int, status: ExecutionStatus) -> None:
    services.executions.start(user_id, execution_id)
    services.executions.finish(user_id, execution_id, status, text="an answer")


def test_a_send_without_a_thread_opens_one_titled_from_its_first_visible_line(
    services: Services, user_id: int
) -> None:
    outgoing = Outgoing("\n   \n  Plan a \u202eweekend in Lisbon  \nwith details")
    sent = services.conversation.send(user_id, outgoing, crew="researcher")
    assert outgoing.created_thread and outgoing.thread_id == sent.message.thread_id
    thread = services.threads.get(user_id, sent.message.thread_id)
    assert (thread.title, thread.crew) == ("Plan a weekend in Lisbon", "researcher")
    assert sent.message.content.startswith("Plan a")
    assert sent.execution is not None and sent.message.status is MessageStatus.PENDING
    again = services.conversation.send(user_id, outgoing)  # a second attempt of one send
    assert again.message.thread_id == thread.id
    assert services.threads.count(user_id) == 1


@pytest.mark.parametrize("text", ["", " \n\t ", "x" * (MAX_USER_CONTENT_CHARS + 1)])
def test_text_that_cannot_be_sent_writes_nothing(
    services: Services, user_id: int, text: str
) -> None:
    with pytest.raises(ValidationError):
        services.conversation.check(text)
    outgoing = Outgoing(text)
    with pytest.raises(ValidationError):
        services.conversation.send(user_id, outgoing)
    assert outgoing.thread_id is None and services.threads.count(user_id) == 0
    thread = services.threads.create(user_id)
    with pytest.raises(ValidationError):
        services.conversation.send(user_id, Outgoing(text, thread.id))
    assert services.threads.get(user_id, thread.id).title == DEFAULT_TITLE
    assert services.messages.list(user_id, thread.id).messages == []


def test_only_an_untitled_empty_thread_takes_its_title_from_the_first_message(
    services: Services, user_id: int
) -> None:
    empty = services.threads.create(user_id)
    services.conversation.send(user_id, Outgoing("First question here", empty.id))
    assert services.threads.get(user_id, empty.id).title == "First question here"
    services.conversation.send(user_id, Outgoing("A second question", empty.id))
    assert services.threads.get(user_id, empty.id).title == "First question here"
    named = services.threads.create(user_id, "My own name")
    services.conversation.send(user_id, Outgoing("Not a title", named.id))
    assert services.threads.get(user_id, named.id).title == "My own name"
    talked = services.threads.create(user_id)
    services.messages.send(user_id, talked.id, "a note", triggers_execution=False)
    services.conversation.send(user_id, Outgoing("Not a title either", talked.id))
    assert services.threads.get(user_id, talked.id).title == DEFAULT_TITLE


def test_edit_and_resend_adds_a_new_message_and_keeps_the_old_one(
    services: Services, user_id: int
) -> None:
    first = services.conversation.send(user_id, Outgoing("Explain tow"))
    assert first.execution is not None
    _end(services, user_id, first.execution.id, ExecutionStatus.COMPLETED)
    thread_id = first.message.thread_id
    edited = services.conversation.send(
        user_id, Outgoing("  Explain two ", thread_id, edited_id=first.message.id)
    )
    assert edited.message.content == "Explain two"
    assert edited.message.metadata == {"edited_from": first.message.id}
    assert services.messages.get(user_id, first.message.id).content == "Explain tow"
    assert services.threads.get(user_id, thread_id).title == "Explain tow"


def test_retry_and_regenerate_are_offered_exactly_where_the_services_allow_them(
    services: Services, user_id: int
) -> None:
    asked = services.conversation.send(user_id, Outgoing("one"))
    thread_id = asked.message.thread_id
    assert asked.execution is not None

    def rows() -> list[MessageRecord]:
        return services.messages.list(user_id, thread_id).messages

    # still running: neither Retry nor Regenerate, and the services refuse both
    assert regenerate_target(rows()) is None
    assert all(retry_target(rows(), m) is None for m in rows())
    with pytest.raises(IllegalTransitionError, match="still being written"):
        services.conversation.regenerate(user_id, asked.message.id)
    _end(services, user_id, asked.execution.id, ExecutionStatus.FAILED)
    failed = rows()
    reply = next(m for m in failed if m.role is Role.ASSISTANT)
    assert [retry_target(failed, m) for m in failed] == [None, asked.message.id]
    assert retry_target(failed, reply) == asked.message.id
    retried = services.conversation.retry(user_id, asked.message.id)
    assert retried.execution is not None
    _end(services, user_id, retried.execution.id, ExecutionStatus.COMPLETED)
    done = rows()
    assert all(retry_target(done, m) is None for m in done)
    assert regenerate_target(done) == asked.message.id
    newest_reply = max((m for m in done if m.role is Role.ASSISTANT), key=lambda m: m.id)
    assert regenerate_target(done, newest_reply) == asked.message.id
    assert [m.version for m in done][1] == Version(2, 2)  # the retried reply is version 2
    again = services.conversation.regenerate(user_id, asked.message.id)
    assert again.execution is not None and again.message.status is MessageStatus.PENDING
    later = services.conversation.send(user_id, Outgoing("two", thread_id))
    assert later.execution is not None
    _end(services, user_id, again.execution.id, ExecutionStatus.COMPLETED)
    _end(services, user_id, later.execution.id, ExecutionStatus.COMPLETED)
    assert regenerate_target(rows()) == later.message.id
    first_reply = rows()[1]
    assert regenerate_target(rows(), first_reply) == asked.message.id  # any reply, any place
    earlier = services.conversation.regenerate(user_id, asked.message.id)
    assert earlier.execution is not None
    assert [m.id for m in rows()] == [asked.message.id]  # the path ends at the question again
