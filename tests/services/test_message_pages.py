"""Keyset pages of a thread's messages in both directions, and a page around one message."""

from __future__ import annotations

import pytest

from chatdesk.services import Services
from chatdesk.services.errors import NotFoundError, ValidationError


def _thread_with(services: Services, user_id: int, count: int) -> tuple[int, list[int]]:
    thread = services.threads.create(user_id)
    ids = [
        services.messages.send(user_id, thread.id, f"m{i}", triggers_execution=False).message.id
        for i in range(count)
    ]
    return thread.id, ids


def test_pages_after_a_message_walk_forward_to_the_newest(services: Services, user_id: int) -> None:
    thread_id, ids = _thread_with(services, user_id, 9)
    page = services.messages.list(user_id, thread_id, limit=4, after_id=ids[0])
    assert [m.id for m in page.messages] == ids[1:5]
    assert page.has_newer and page.has_older
    page = services.messages.list(user_id, thread_id, limit=4, after_id=ids[4])
    assert [m.id for m in page.messages] == ids[5:9]
    assert not page.has_newer
    newest = services.messages.list(user_id, thread_id, limit=4)
    assert [m.id for m in newest.messages] == ids[5:9] and not newest.has_newer


def test_a_page_around_a_message_holds_it_with_neighbours_on_both_sides(
    services: Services, user_id: int
) -> None:
    thread_id, ids = _thread_with(services, user_id, 20)
    page = services.messages.around(user_id, thread_id, ids[10], limit=3)
    assert [m.id for m in page.messages] == ids[8:14]
    assert page.has_older and page.has_newer
    start = services.messages.around(user_id, thread_id, ids[0], limit=3)
    assert [m.id for m in start.messages] == ids[0:4]
    assert not start.has_older and start.has_newer
    end = services.messages.around(user_id, thread_id, ids[-1], limit=3)
    assert [m.id for m in end.messages] == ids[-3:]
    assert end.has_older and not end.has_newer


def test_around_refuses_a_message_of_another_thread_or_one_that_is_gone(
    services: Services, user_id: int
) -> None:
    thread_id, ids = _thread_with(services, user_id, 2)
    _other, other_ids = _thread_with(services, user_id, 1)
    with pytest.raises(ValidationError):
        services.messages.around(user_id, thread_id, other_ids[0])
    services.messages.delete(user_id, ids[0])
    with pytest.raises(NotFoundError):
        services.messages.around(user_id, thread_id, ids[0])
    with pytest.raises(ValidationError):
        services.messages.list(user_id, thread_id, before_id=ids[1], after_id=ids[0])


def test_previews_of_many_threads_are_their_last_worded_messages(
    services: Services, user_id: int
) -> None:
    answered = services.threads.create(user_id, "answered")
    services.messages.send(user_id, answered.id, "question")
    waiting = services.threads.create(user_id, "waiting")
    sent = services.messages.send(user_id, waiting.id, "first words")
    assert sent.execution is not None
    services.executions.start(user_id, sent.execution.id)  # its reply has no words yet
    empty = services.threads.create(user_id, "empty")
    other_user = services.users.ensure("someone else")
    theirs = services.threads.create(other_user, "theirs")
    services.messages.send(other_user, theirs.id, "private")
    found = services.messages.previews(user_id, [answered.id, waiting.id, empty.id, theirs.id])
    assert {thread: text for thread, (_id, text) in found.items()} == {
        answered.id: "question",
        waiting.id: "first words",
        empty.id: "",
    }
    assert found[waiting.id][0] == sent.message.id
