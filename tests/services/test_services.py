"""Thread and message use cases: ordering, validation, authorization, lifecycle, events."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.errors import (
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from chatdesk.services.events import ChangeKind, ChangeRecorder, Entity
from chatdesk.services.messages import MAX_USER_CONTENT_CHARS
from chatdesk.store.models import Execution, Message
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role

S = MessageStatus


def test_threads_are_listed_newest_first_and_a_message_moves_one_to_the_top(
    services: Services, user_id: int
) -> None:
    first = services.threads.create(user_id, "first")
    second = services.threads.create(user_id, "second")
    third = services.threads.create(user_id, "third")
    assert [t.title for t in services.threads.list(user_id)] == ["third", "second", "first"]
    services.messages.send(user_id, first.id, "wake up")
    assert [t.id for t in services.threads.list(user_id)] == [first.id, third.id, second.id]
    moved = services.threads.get(user_id, first.id)
    assert moved.updated_at > first.updated_at


def test_pinned_threads_come_first(services: Services, user_id: int) -> None:
    old = services.threads.create(user_id, "old")
    services.threads.create(user_id, "new")
    services.threads.update(user_id, old.id, pinned=True)
    assert [t.title for t in services.threads.list(user_id)] == ["old", "new"]


def test_rename_trims_and_validates(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    assert services.threads.rename(user_id, thread.id, "  Trip \n plans ").title == "Trip plans"
    with pytest.raises(ValidationError, match="empty"):
        services.threads.rename(user_id, thread.id, "   ")
    with pytest.raises(ValidationError, match="at most"):
        services.threads.rename(user_id, thread.id, "x" * 201)


def test_send_writes_message_and_pending_execution_together(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id, crew="research-writer")
    result = services.messages.send(user_id, thread.id, "  hello  ")
    assert result.message.content == "hello"
    assert result.message.status is S.PENDING
    assert result.execution is not None
    assert result.execution.status is ExecutionStatus.PENDING
    assert result.execution.crew == "research-writer"
    assert result.message.execution_id == result.execution.id


def test_a_message_that_triggers_nothing_is_complete_at_once(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    result = services.messages.send(user_id, thread.id, "a note", triggers_execution=False)
    assert result.execution is None
    assert result.message.status is S.COMPLETED


def test_a_failed_send_writes_nothing(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    with pytest.raises(ValidationError):
        services.messages.send(user_id, thread.id, "x" * (MAX_USER_CONTENT_CHARS + 1))
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert session.scalar(select(func.count()).select_from(Execution)) == 0
    assert recorder.changes == []


@pytest.mark.parametrize("content", ["", "   ", "\n\t"])
def test_empty_messages_are_refused(services: Services, user_id: int, content: str) -> None:
    thread = services.threads.create(user_id)
    with pytest.raises(ValidationError, match="empty"):
        services.messages.send(user_id, thread.id, content)


def test_message_size_limit(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    at_limit = "x" * MAX_USER_CONTENT_CHARS
    assert len(services.messages.send(user_id, thread.id, at_limit).message.content) == len(
        at_limit
    )
    with pytest.raises(ValidationError, match="limit is 100,000"):
        services.messages.send(user_id, thread.id, at_limit + "y")


def test_unknown_role_is_refused(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    with pytest.raises(ValidationError, match="Unknown role"):
        services.messages.send(user_id, thread.id, "hi", role="robot")


def test_message_for_unknown_thread_is_refused(services: Services, user_id: int) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        services.messages.send(user_id, 12345, "hi")


def test_replies_are_kept_exactly(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    reply = services.messages.add_reply(user_id, thread.id, None, "")
    text = "  leading spaces\n```py\nprint('x')\n```\n  "
    assert services.messages.edit(user_id, reply.id, text).content == text
    assert services.messages.get(user_id, reply.id).content == text


def test_keyset_pagination_walks_history_in_order(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    ids = [
        services.messages.send(user_id, thread.id, f"m{i}", triggers_execution=False).message.id
        for i in range(25)
    ]
    page = services.messages.list(user_id, thread.id, limit=10)
    assert [m.id for m in page.messages] == ids[-10:]
    assert page.has_older
    page = services.messages.list(user_id, thread.id, limit=10, before_id=page.messages[0].id)
    assert [m.id for m in page.messages] == ids[5:15]
    page = services.messages.list(user_id, thread.id, limit=10, before_id=page.messages[0].id)
    assert [m.id for m in page.messages] == ids[:5]
    assert not page.has_older
    with pytest.raises(ValidationError):
        services.messages.list(user_id, thread.id, limit=0)


def test_allowed_status_transitions(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    message = services.messages.send(user_id, thread.id, "hi").message
    for status in (S.PROCESSING, S.FAILED):
        message = services.messages.set_status(user_id, message.id, status)
    retried = services.messages.retry(user_id, message.id)
    assert retried.message.status is S.PENDING
    for status in (S.PROCESSING, S.COMPLETED):
        message = services.messages.set_status(user_id, message.id, status)
    assert message.status is S.COMPLETED


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), S.COMPLETED),
        ((S.PROCESSING,), S.PENDING),
        ((S.PROCESSING, S.COMPLETED), S.PENDING),
        ((S.PROCESSING, S.COMPLETED), S.FAILED),
        ((S.CANCELLED,), S.PROCESSING),
        ((S.PROCESSING, S.FAILED), S.COMPLETED),
    ],
)
def test_illegal_status_transitions_raise(
    services: Services, user_id: int, path: tuple[MessageStatus, ...], illegal: MessageStatus
) -> None:
    thread = services.threads.create(user_id)
    message = services.messages.send(user_id, thread.id, "hi").message
    for status in path:
        services.messages.set_status(user_id, message.id, status)
    with pytest.raises(IllegalTransitionError, match=f"to {illegal}"):
        services.messages.set_status(user_id, message.id, illegal)
    assert services.messages.get(user_id, message.id).status is (path[-1] if path else S.PENDING)


def test_retry_makes_a_new_execution_and_keeps_the_old_one(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    sent = services.messages.send(user_id, thread.id, "hi")
    with pytest.raises(IllegalTransitionError):
        services.messages.retry(user_id, sent.message.id)  # still pending
    services.messages.set_status(user_id, sent.message.id, S.CANCELLED)
    retried = services.messages.retry(user_id, sent.message.id)
    assert retried.execution is not None and sent.execution is not None
    assert retried.execution.id != sent.execution.id
    assert retried.message.execution_id == retried.execution.id
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Execution)) == 2


def test_one_user_cannot_touch_another_users_threads(services: Services) -> None:
    ada = services.users.ensure("ada")
    bob = services.users.ensure("bob")
    thread = services.threads.create(ada, "secret")
    message = services.messages.send(ada, thread.id, "private").message
    attempts = [
        lambda: services.threads.get(bob, thread.id),
        lambda: services.threads.rename(bob, thread.id, "mine"),
        lambda: services.threads.update(bob, thread.id, pinned=True),
        lambda: services.threads.delete(bob, thread.id),
        lambda: services.messages.send(bob, thread.id, "hi"),
        lambda: services.messages.list(bob, thread.id),
        lambda: services.messages.get(bob, message.id),
        lambda: services.messages.edit(bob, message.id, "changed"),
        lambda: services.messages.set_status(bob, message.id, S.PROCESSING),
        lambda: services.messages.delete(bob, message.id),
        lambda: services.messages.add_reply(bob, thread.id, None, "x"),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDeniedError, match="another user"):
            attempt()
    assert services.threads.list(bob) == []
    assert services.messages.get(ada, message.id).content == "private"
    assert services.threads.get(ada, thread.id).title == "secret"


def test_changes_are_announced_after_commit(services: Services, user_id: int) -> None:
    recorder = ChangeRecorder()
    unsubscribe = services.bus.subscribe(recorder)
    thread = services.threads.create(user_id)
    sent = services.messages.send(user_id, thread.id, "hi")
    services.messages.set_status(user_id, sent.message.id, S.PROCESSING)
    services.messages.edit(user_id, sent.message.id, "hi!")
    with pytest.raises(IllegalTransitionError, match="still being written"):
        services.messages.delete(user_id, sent.message.id)  # its run is going
    assert sent.execution is not None
    services.executions.finish(user_id, sent.execution.id, ExecutionStatus.CANCELLED)
    services.messages.delete(user_id, sent.message.id)
    services.threads.delete(user_id, thread.id)
    unsubscribe()
    services.threads.create(user_id)
    seen = [(c.kind, c.entity) for c in recorder.changes]
    assert seen == [
        (ChangeKind.CREATED, Entity.THREAD),
        (ChangeKind.CREATED, Entity.MESSAGE),
        (ChangeKind.CREATED, Entity.EXECUTION),
        (ChangeKind.UPDATED, Entity.THREAD),
        (ChangeKind.STATUS_CHANGED, Entity.MESSAGE),
        (ChangeKind.UPDATED, Entity.MESSAGE),
        (ChangeKind.STATUS_CHANGED, Entity.EXECUTION),
        (ChangeKind.STATUS_CHANGED, Entity.MESSAGE),
        (ChangeKind.DELETED, Entity.MESSAGE),
        (ChangeKind.UPDATED, Entity.THREAD),  # its path now ends elsewhere (here: nowhere)
        (ChangeKind.DELETED, Entity.THREAD),
    ]
    status_change = recorder.changes[4]
    assert status_change.fields == {"status": S.PROCESSING, "old_status": S.PENDING}
    assert status_change.record.role is Role.USER


def test_a_failing_listener_does_not_break_the_others(services: Services, user_id: int) -> None:
    class Broken:
        def on_change(self, change: object) -> None:
            raise RuntimeError("boom")

    recorder = ChangeRecorder()
    services.bus.subscribe(Broken())
    services.bus.subscribe(recorder)
    services.threads.create(user_id)
    assert len(recorder.changes) == 1


def test_threads_page_by_keyset_in_list_order(services: Services, user_id: int) -> None:
    made = [services.threads.create(user_id, f"t{i}") for i in range(7)]
    services.threads.update(user_id, made[2].id, pinned=True)
    expected = [t.id for t in services.threads.list(user_id)]
    assert expected[0] == made[2].id
    pages: list[int] = []
    after = None
    while True:
        page = services.threads.list(user_id, limit=3, after=after)
        if not page:
            break
        pages += [t.id for t in page]
        after = page[-1]
    assert pages == expected
    assert services.threads.count(user_id) == 7
