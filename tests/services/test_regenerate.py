"""Versions: Regenerate, Retry and editing make siblings; the model sees only its path."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.errors import IllegalTransitionError, ValidationError
from chatdesk.services.records import Version
from chatdesk.store.models import Execution
from chatdesk.vocabulary import ExecutionStatus, MessageStatus


def _answer(services: Services, user_id: int, execution_id: int, reply: str) -> None:
    services.executions.start(user_id, execution_id)
    services.executions.finish(user_id, execution_id, ExecutionStatus.COMPLETED, text=reply)


def _ask(services: Services, user_id: int, thread_id: int, text: str, reply: str) -> int:
    """A question answered by a run that ends ``completed``; returns the question's id."""
    sent = services.messages.send(user_id, thread_id, text)
    assert sent.execution is not None
    _answer(services, user_id, sent.execution.id, reply)
    return sent.message.id


def _two_takes(services: Services, user_id: int) -> tuple[int, int]:
    """one / answer one / two / (first take / deeper / deeper answer | second take):
    the thread and the question with two takes, the second shown."""
    thread = services.threads.create(user_id)
    _ask(services, user_id, thread.id, "one", "answer one")
    question = _ask(services, user_id, thread.id, "two", "first take")
    _ask(services, user_id, thread.id, "deeper", "deeper answer")
    again = services.messages.regenerate(user_id, question)
    assert again.execution is not None
    _answer(services, user_id, again.execution.id, "second take")
    return thread.id, question


def _path(services: Services, user_id: int, thread_id: int) -> list[str]:
    return [m.content for m in services.messages.list(user_id, thread_id).messages]


def test_regenerate_any_reply_makes_a_version_the_model_alone_sees(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    first = _ask(services, user_id, thread.id, "one", "answer one")
    question = _ask(services, user_id, thread.id, "two", "weak answer")
    old_execution = services.messages.get(user_id, question).execution_id
    again = services.messages.regenerate(user_id, question)
    assert again.execution is not None and again.execution.id != old_execution
    assert again.message.status is MessageStatus.PENDING
    old = services.executions.get(user_id, old_execution or 0)
    assert (old.status, old.result) == (ExecutionStatus.COMPLETED, "weak answer")
    start = services.executions.start(user_id, again.execution.id)
    assert [m.content for m in start.history] == ["one", "answer one"]
    assert start.reply.parent_id == question
    with pytest.raises(IllegalTransitionError, match="still being written"):
        services.messages.regenerate(user_id, question)
    services.executions.finish(user_id, again.execution.id, ExecutionStatus.COMPLETED, text="ok")
    rows = services.messages.list(user_id, thread.id).messages
    assert [m.content for m in rows] == ["one", "answer one", "two", "ok"]
    assert [m.version for m in rows] == [Version(1, 1), Version(1, 1), Version(1, 1), Version(2, 2)]
    nxt = services.messages.send(user_id, thread.id, "three")
    assert nxt.execution is not None
    history = services.executions.start(user_id, nxt.execution.id).history
    assert [m.content for m in history] == ["one", "answer one", "two", "ok"]
    # an earlier reply, far from the end: its own version, and the path ends there
    early = services.messages.regenerate(user_id, rows[1].id)  # from the reply itself
    assert early.message.id == first and early.execution is not None
    assert _path(services, user_id, thread.id) == ["one"]
    _answer(services, user_id, early.execution.id, "answer one, again")
    assert _path(services, user_id, thread.id) == ["one", "answer one, again"]


def test_flipping_versions_shows_each_with_its_own_conversation_and_remembers(
    services: Services, user_id: int
) -> None:
    thread_id, _question = _two_takes(services, user_id)
    _ask(services, user_id, thread_id, "other", "other answer")
    second = services.messages.list(user_id, thread_id).messages[3]
    assert (second.content, second.version) == ("second take", Version(2, 2))
    page = services.messages.switch_version(user_id, second.id, -1)
    assert [m.content for m in page.messages] == [
        "one",
        "answer one",
        "two",
        "first take",
        "deeper",
        "deeper answer",
    ]
    assert _path(services, user_id, thread_id) == [m.content for m in page.messages]
    assert services.threads.get(user_id, thread_id).current_leaf_id == page.messages[-1].id
    first_take = page.messages[3]
    assert services.messages.switch_version(user_id, first_take.id, -1).messages[3].id == (
        first_take.id
    )  # no version before the first: it stays
    back = services.messages.switch_version(user_id, first_take.id, +1)
    assert [m.content for m in back.messages][3:] == ["second take", "other", "other answer"]
    # a new message goes at the end of the path shown
    services.messages.switch_version(user_id, second.id, -1)
    sent = services.messages.send(user_id, thread_id, "continue the first")
    assert sent.message.parent_id == page.messages[-1].id


def test_editing_a_message_makes_a_version_answered_from_its_place(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    first = _ask(services, user_id, thread.id, "one", "answer one")
    question = _ask(services, user_id, thread.id, "tow", "what is tow?")
    _ask(services, user_id, thread.id, "later", "later answer")
    sent = services.messages.send_version(user_id, question, "  two  ")
    assert sent.message.content == "two"
    assert sent.message.metadata == {"edited_from": question}
    assert sent.execution is not None
    original = services.messages.get(user_id, question)
    assert (original.content, original.status) == ("tow", MessageStatus.COMPLETED)
    assert original.version == Version(1, 2)
    history = services.executions.start(user_id, sent.execution.id).history
    assert [m.content for m in history] == ["one", "answer one"]
    assert _path(services, user_id, thread.id)[-2:] == ["two", ""]
    root = services.messages.send_version(user_id, first, "one, again")
    assert root.message.parent_id is None and root.execution is not None
    assert services.executions.start(user_id, root.execution.id).history == []
    reply = services.messages.add_reply(user_id, thread.id, None, "not mine to edit")
    with pytest.raises(ValidationError, match="Only a message you wrote"):
        services.messages.send_version(user_id, reply.id, "x")
    with pytest.raises(ValidationError, match="empty"):
        services.messages.send_version(user_id, first, "   ")


def test_retry_keeps_the_question_and_makes_its_reply_a_version(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    sent = services.messages.send(user_id, thread.id, "q")
    assert sent.execution is not None
    services.executions.start(user_id, sent.execution.id)
    services.executions.finish(user_id, sent.execution.id, ExecutionStatus.FAILED, error="down")
    retried = services.messages.retry(user_id, sent.message.id)
    assert retried.message.id == sent.message.id and retried.execution is not None
    _answer(services, user_id, retried.execution.id, "fine now")
    rows = services.messages.list(user_id, thread.id).messages
    assert [(m.content, m.version) for m in rows] == [
        ("q", Version(1, 1)),
        ("fine now", Version(2, 2)),
    ]


def test_messages_sent_while_a_question_waits_follow_its_reply(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    first = services.messages.send(user_id, thread.id, "first")
    queued = services.messages.send(user_id, thread.id, "queued")
    assert first.execution is not None and queued.execution is not None
    _answer(services, user_id, first.execution.id, "first answer")
    start = services.executions.start(user_id, queued.execution.id)
    assert [m.content for m in start.history] == ["first", "first answer"]
    services.executions.finish(user_id, queued.execution.id, ExecutionStatus.COMPLETED, text="ok")
    assert _path(services, user_id, thread.id) == ["first", "first answer", "queued", "ok"]


def test_deleting_a_message_takes_its_branch_and_runs_and_the_path_moves_on(
    services: Services, user_id: int
) -> None:
    thread_id, question = _two_takes(services, user_id)
    second = services.messages.list(user_id, thread_id).messages[3]
    assert services.messages.branch_size(user_id, second.id) == 1
    assert services.messages.delete(user_id, second.id) == 1
    assert _path(services, user_id, thread_id) == [
        "one",
        "answer one",
        "two",
        "first take",
        "deeper",
        "deeper answer",
    ]
    # a reply's run belongs to its question: its Run details still show it
    assert len(services.executions.runs_for_message(user_id, question)) == 2
    assert services.messages.delete(user_id, question) == 4
    assert _path(services, user_id, thread_id) == ["one", "answer one"]
    leaf = services.threads.get(user_id, thread_id).current_leaf_id
    assert leaf == services.messages.list(user_id, thread_id).messages[-1].id
    with services.store.session_factory() as session:  # the question's runs went with it
        assert session.scalar(select(func.count()).select_from(Execution)) == 1


def test_markdown_writes_the_path_shown_or_every_branch_with_its_version(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id, "takes")
    question = _ask(services, user_id, thread.id, "two", "first take")
    again = services.messages.regenerate(user_id, question)
    assert again.execution is not None
    _answer(services, user_id, again.execution.id, "second take")
    out = io.StringIO()
    services.transfer.write_markdown(user_id, thread.id, out)
    shown = out.getvalue()
    assert "second take" in shown and "first take" not in shown
    out = io.StringIO()
    services.transfer.write_markdown(user_id, thread.id, out, all_branches=True)
    every = out.getvalue()
    assert every.index("first take") < every.index("second take")
    assert every.count("· version 1 of 2") == 1 and every.count("· version 2 of 2") == 1


def test_branching_copies_the_path_into_a_new_chat_that_names_its_origin(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id, "Trip plans")
    _ask(services, user_id, thread.id, "one", "answer one")
    question = _ask(services, user_id, thread.id, "two", "first take")
    again = services.messages.regenerate(user_id, question)
    assert again.execution is not None
    _answer(services, user_id, again.execution.id, "second take")
    _ask(services, user_id, thread.id, "three", "answer three")
    second = services.messages.list(user_id, thread.id).messages[3]
    branch = services.branches.branch(user_id, second.id)
    assert branch.title == "Trip plans (branch)" and branch.id != thread.id
    copied = services.messages.list(user_id, branch.id).messages
    assert [m.content for m in copied] == ["one", "answer one", "two", "second take"]
    assert all(m.execution_id is None and not m.triggers_execution for m in copied)
    assert copied[-1].metadata["branched_from"] == {
        "thread_id": thread.id,
        "message_id": second.id,
        "title": "Trip plans",
    }
    assert [m.version for m in copied] == [Version(1, 1)] * 4  # a line: one version each
    # the original is untouched; the branch goes on by itself
    assert _path(services, user_id, thread.id)[-2:] == ["three", "answer three"]
    more = services.messages.send(user_id, branch.id, "four")
    assert more.message.parent_id == copied[-1].id
    assert services.threads.list(user_id)[0].id == branch.id


def test_a_deleted_branch_comes_back_exactly_with_undo(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id)
    _ask(services, user_id, thread.id, "one", "answer one")
    question = _ask(services, user_id, thread.id, "two", "first take")
    _ask(services, user_id, thread.id, "deeper", "deeper answer")
    before = services.messages.list(user_id, thread.id).messages
    runs = services.executions.runs_for_message(user_id, question)
    steps = services.executions.logs(user_id, runs[0].id)
    deleted = services.messages.delete_branch(user_id, question)
    assert deleted.count == 4 and _path(services, user_id, thread.id) == ["one", "answer one"]
    services.messages.restore(deleted)
    assert services.messages.list(user_id, thread.id).messages == before
    assert services.executions.runs_for_message(user_id, question) == runs
    assert services.executions.logs(user_id, runs[0].id) == steps
    with pytest.raises(ValidationError, match="changed"):  # twice: its ids are taken now
        services.messages.restore(deleted)


def test_search_finds_every_branch_and_opening_a_hit_shows_its_branch(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    question = _ask(services, user_id, thread.id, "colours", "first: vermilion")
    again = services.messages.regenerate(user_id, question)
    assert again.execution is not None
    _answer(services, user_id, again.execution.id, "second: ultramarine")
    assert _path(services, user_id, thread.id) == ["colours", "second: ultramarine"]
    (hit,) = services.search.search(user_id, "vermilion")  # on the branch not shown
    page = services.messages.around(user_id, thread.id, hit.message_id)
    assert [m.content for m in page.messages] == ["colours", "first: vermilion"]
    assert _path(services, user_id, thread.id) == ["colours", "first: vermilion"]  # kept


def test_undo_refuses_when_another_client_deleted_what_the_branch_followed(
    services: Services, user_id: int
) -> None:
    thread_id, question = _two_takes(services, user_id)
    second = services.messages.list(user_id, thread_id).messages[3]
    deleted = services.messages.delete_branch(user_id, second.id)
    services.messages.delete(user_id, question)  # meanwhile, elsewhere: its parent goes
    with pytest.raises(ValidationError, match="changed"):
        services.messages.restore(deleted)
    assert _path(services, user_id, thread_id) == ["one", "answer one"]  # nothing half-done
