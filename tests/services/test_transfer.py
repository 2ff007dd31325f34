"""Export a thread to JSON and Markdown, import JSON back: exact, checked, all or nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import func, select

from chatdesk.services import Services, transfer
from chatdesk.services.events import ChangeRecorder, Entity
from chatdesk.services.executions import LogEntry
from chatdesk.services.import_batch import AlreadyImportedError
from chatdesk.services.messages import MAX_USER_CONTENT_CHARS
from chatdesk.services.transfer import (
    FORMAT,
    INTERRUPTED_IMPORT,
    VERSION,
    TransferError,
    fenced,
)
from chatdesk.store.base import ESCAPED_PREFIX
from chatdesk.store.models import Message, Thread
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role
from tests.ui.conftest import add_messages

HOSTILE = [
    "lone surrogates \ud800 and \udfff",
    "NUL \x00 inside",
    f"{ESCAPED_PREFIX}looks escaped but is not",
    "```\nan unclosed fence\n\n### You · fake heading",
    "````` five backticks ````` and ~~~ tildes",
    "日本語 and emoji 🎉, RTL \u202e text",
    "  leading and trailing spaces kept in replies  \n\n",
]


def _conversation(services: Services, user_id: int) -> int:
    """A thread with every kind of row: completed, failed and retried runs, steps, hostile text."""
    thread = services.threads.create(
        user_id, "Export me", crew="assistant", model="openai/x", system_prompt="Be brief."
    )
    for n, reply in enumerate(HOSTILE):
        sent = services.messages.send(user_id, thread.id, f"question {n} with `code`")
        assert sent.execution is not None
        services.executions.start(user_id, sent.execution.id)
        services.executions.append_logs(
            user_id, sent.execution.id, [LogEntry("crew_started"), LogEntry("crew_completed")]
        )
        services.executions.finish(
            user_id, sent.execution.id, ExecutionStatus.COMPLETED, text=reply
        )
    failed = services.messages.send(user_id, thread.id, "this one fails")
    assert failed.execution is not None
    services.executions.start(user_id, failed.execution.id)
    services.executions.finish(
        user_id, failed.execution.id, ExecutionStatus.FAILED, text="half", error="No CHATDESK_KEY"
    )
    services.messages.send(user_id, thread.id, "a note", triggers_execution=False)
    return thread.id


def _snapshot(services: Services, user_id: int, thread_id: int) -> dict[str, Any]:
    """Everything an export promises to keep, with ids replaced by their order."""
    thread = services.threads.get(user_id, thread_id)
    messages = services.messages.list(user_id, thread_id, limit=1000).messages
    execution_ids = sorted({m.execution_id for m in messages if m.execution_id is not None})
    executions = [services.executions.get(user_id, e) for e in execution_ids]
    order = {e: n for n, e in enumerate(execution_ids)}
    return {
        "thread": (thread.title, thread.crew, thread.model, thread.system_prompt),
        "messages": [
            (
                m.role,
                m.content,
                m.status,
                m.triggers_execution,
                order.get(m.execution_id) if m.execution_id is not None else None,
                m.metadata,
                m.created_at,
            )
            for m in messages
        ],
        "executions": [
            (e.crew, e.status, e.model, e.result, e.error, e.started_at, e.finished_at)
            for e in executions
        ],
    }


def test_json_round_trip_gives_the_same_thread(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread_id = _conversation(services, user_id)
    path = tmp_path / "chat.json"
    services.transfer.export_json(user_id, thread_id, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == (FORMAT, VERSION)
    assert [e["steps"] for e in document["executions"]] == [2] * len(HOSTILE) + [0]
    assert "日本語" in path.read_text(encoding="utf-8")  # readable where UTF-8 allows
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    result = services.transfer.import_file(user_id, path)
    assert result.thread.id != thread_id
    assert (result.messages, result.executions) == (len(HOSTILE) * 2 + 3, len(HOSTILE) + 1)
    copy, original = (_snapshot(services, user_id, t) for t in (result.thread.id, thread_id))
    title, *rest = copy.pop("thread")
    assert title == "Export me (imported)"  # beside its original: told apart
    assert (title.removesuffix(" (imported)"), *rest) == original.pop("thread")
    assert copy == original
    # one announcement, of a complete thread
    assert [(c.entity, c.kind.value, c.id) for c in recorder.changes] == [
        (Entity.THREAD, "created", result.thread.id)
    ]
    assert services.threads.list(user_id)[0].id == result.thread.id  # shown on top
    # a second export of the import is the same document (but for times of export)
    again = tmp_path / "again.json"
    services.transfer.export_json(user_id, result.thread.id, again)
    second = json.loads(again.read_text(encoding="utf-8"))
    for doc in (document, second):
        doc.pop("exported_at")
        doc["thread"].pop("updated_at")  # a one-chat import is new activity: on top
        for e in doc["executions"]:
            e.pop("ref"), e.pop("steps")
        places = {m["ref"]: n for n, m in enumerate(doc["messages"])}  # ids differ: places
        doc["thread"]["current_leaf"] = places[doc["thread"]["current_leaf"]]
        for m in doc["messages"]:
            m.pop("execution")
            m["ref"], m["parent"] = places[m["ref"]], places.get(m["parent"])
    assert second["thread"].pop("title") == document["thread"].pop("title") + " (imported)"
    assert second == document


def test_a_big_thread_round_trips_without_loading_it_whole(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread = services.threads.create(user_id, "Big")
    add_messages(services.store, thread.id, user_id, 5_000)
    path = tmp_path / "big.json"
    services.transfer.export_json(user_id, thread.id, path)
    result = services.transfer.import_file(user_id, path)
    assert result.messages == 5_000
    with services.store.session_factory() as session:
        contents = [
            list(
                session.scalars(
                    select(Message.content).where(Message.thread_id == t).order_by(Message.id)
                )
            )
            for t in (thread.id, result.thread.id)
        ]
    assert contents[0] == contents[1]


def test_markdown_reads_as_markdown_and_replies_cannot_forge_it(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread_id = _conversation(services, user_id)
    path = tmp_path / "chat.md"
    services.transfer.export_markdown(user_id, thread_id, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Export me\n")
    assert "- Model: openai/x" in text
    assert "```text\nBe brief.\n```" in text
    tokens = MarkdownIt("commonmark").parse(text)
    # one header per message, every one of them ours: the fake "### You" of a reply
    # stays inside the fence the reply left open (closed at the message's end)
    headers = [
        tokens[n + 1].content
        for n, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == "h2"
    ]
    assert len(headers) == len(HOSTILE) * 2 + 3
    assert all(
        re.fullmatch(r"(You|Assistant) · \d{4}-\d\d-\d\d \d\d:\d\d UTC( · \w+)?", h)
        for h in headers
    )
    fences = [t.content for t in tokens if t.type == "fence"]
    assert fences[0] == "Be brief.\n" and "an unclosed fence\n\n### You · fake heading\n" in fences
    # a question's `code` is a code span: read as Markdown, not wrapped in a fence
    assert "question 0 with `code`\n" in text
    assert any(c.type == "code_inline" for t in tokens if t.children for c in t.children)
    assert "````` five backticks ````` and ~~~ tildes\n" in text
    assert "> **Failed:** No CHATDESK_KEY" in text
    assert "\ufffd" in text and "\x00" not in text  # surrogates and NUL made printable
    assert not list(tmp_path.glob("*.part"))


def test_fenced_picks_a_longer_fence() -> None:
    assert fenced("plain") == "```\nplain\n```\n"
    assert fenced("a ```` b\n", "md") == "`````md\na ```` b\n`````\n"


def _valid() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "thread": {"title": "T", "crew": "assistant", "model": None, "system_prompt": None},
        "executions": [{"ref": 7, "crew": "assistant", "status": "completed"}],
        "messages": [
            {
                "role": "user",
                "content": "hi",
                "status": "completed",
                "triggers_execution": True,
                "execution": 7,
                "created_at": "2024-05-01T10:00:00+00:00",
            },
            {
                "role": "assistant",
                "content": "hello",
                "status": "completed",
                "execution": 7,
                "created_at": "2024-05-01T10:00:01+00:00",
            },
        ],
    }


def _break(path: str, value: Any) -> dict[str, Any]:
    document = _valid()
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return document


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], "not a chatdesk chat export"),
        ({"format": "other"}, "not a chatdesk chat export"),
        (_break("version", 2), "newer chatdesk in format version 2"),
        (_break("version", True), "no valid version"),
        (_break("thread", KeyError), "'thread' is missing"),
        (_break("thread.title", "   "), "thread.title: A thread title cannot be empty"),
        (_break("messages", KeyError), "'messages' is missing"),
        (_break("messages.0.role", "robot"), "messages[0].role: 'robot' is not one of user"),
        (_break("messages.1.status", "done"), "messages[1].status: 'done' is not one of"),
        (_break("messages.0.content", KeyError), "messages[0]: the field 'content' is missing"),
        (_break("messages.0.content", 5), "messages[0].content: expected text"),
        (_break("messages.0.content", " "), "a user message cannot be empty"),
        (
            _break("messages.0.content", "x" * (MAX_USER_CONTENT_CHARS + 1)),
            f"a user message can have at most {MAX_USER_CONTENT_CHARS:,}",
        ),
        (_break("messages.1.execution", 8), "messages[1].execution: no execution has ref 8"),
        (_break("messages.1.role", "user"), "execution 7 already has a user message"),
        (_break("messages.0.created_at", "yesterday"), "is not an ISO 8601 time"),
        (_break("messages.0.created_at", "2024-05-01T10:00:00"), "has no time zone"),
        (_break("executions.0.status", "odd"), "executions[0].status"),
        (_break("executions.0.total_tokens", -1), "executions[0].total_tokens"),
        (_break("messages.0.metadata", [1]), "messages[0].metadata: expected an object"),
    ],
)
def test_bad_files_are_refused_with_a_clear_reason_and_write_nothing(
    services: Services, user_id: int, document: Any, expected: str
) -> None:
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    with pytest.raises(TransferError, match=_pattern(expected)):
        services.transfer.import_json(user_id, json.dumps(document))
    assert services.threads.count(user_id) == 0
    assert recorder.changes == []


def _pattern(text: str) -> str:
    import re

    return re.escape(text)


def test_not_json_and_unreadable_files(services: Services, user_id: int, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="not valid JSON"):
        services.transfer.import_json(user_id, b'{"format": ')
    for other_encoding in (b"\xff\xfe\x00", '{"format": 1}'.encode("utf-16-le")):
        with pytest.raises(TransferError, match="not UTF-8"):
            services.transfer.import_json(user_id, other_encoding)
    with pytest.raises(TransferError, match=r"Cannot read missing\.json"):
        services.transfer.import_file(user_id, tmp_path / "missing.json")


def test_a_failure_half_way_leaves_no_thread(
    services: Services, user_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses the last row: the thread and the rows before it vanish too."""
    document = _valid()
    document["messages"].append(dict(document["messages"][1], content="late"))
    original = transfer._message_values

    def failing(n: int, item: Any) -> Any:
        message = original(n, item)
        if message.values["content"] == "late":  # the store refuses it, after the others
            message.values["status"] = "not-a-status"
        return message

    monkeypatch.setattr(transfer, "_message_values", failing)
    with pytest.raises(Exception, match=r"not-a-status"):
        services.transfer.import_json(user_id, json.dumps(document))
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Thread)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_runs_that_were_going_come_back_ended(services: Services, user_id: int) -> None:
    document = _valid()
    document["executions"][0]["status"] = "running"
    document["messages"][0]["status"] = "processing"
    document["messages"][1]["status"] = "processing"
    result = services.transfer.import_json(user_id, json.dumps(document))
    rows = services.messages.list(user_id, result.thread.id).messages
    assert [m.status for m in rows] == [MessageStatus.FAILED, MessageStatus.FAILED]
    assert rows[1].metadata["error"] == INTERRUPTED_IMPORT
    assert rows[1].role is Role.ASSISTANT
    execution_id = rows[0].execution_id
    assert execution_id is not None
    execution = services.executions.get(user_id, execution_id)
    assert execution.status is ExecutionStatus.FAILED and execution.finished_at is not None
    assert services.executions.pending(user_id) == []


def test_only_the_owner_exports(services: Services, user_id: int, tmp_path: Path) -> None:
    from chatdesk.services.errors import PermissionDeniedError

    (tmp_path / "out").mkdir()
    other = services.users.ensure("someone else")
    thread = services.threads.create(other, "Theirs")
    with pytest.raises(PermissionDeniedError):
        services.transfer.export_json(user_id, thread.id, tmp_path / "out" / "x.json")
    assert not list((tmp_path / "out").iterdir())


def test_a_stopped_reply_reads_stopped_in_the_markdown_as_in_the_window(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread = services.threads.create(user_id, "Stopped")
    sent = services.messages.send(user_id, thread.id, "go on")
    assert sent.execution is not None
    services.executions.start(user_id, sent.execution.id)
    services.executions.finish(
        user_id, sent.execution.id, ExecutionStatus.CANCELLED, text="half a rep"
    )
    path = tmp_path / "stopped.md"
    services.transfer.export_markdown(user_id, thread.id, path)
    text = path.read_text(encoding="utf-8")
    assert "· stopped" in text
    assert "cancelled" not in text


def test_an_import_keeps_its_title_when_no_chat_has_it(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread_id = _conversation(services, user_id)
    path = tmp_path / "chat.json"
    services.transfer.export_json(user_id, thread_id, path)
    services.threads.delete(user_id, thread_id)
    assert services.transfer.import_file(user_id, path).thread.title == "Export me"
    with pytest.raises(AlreadyImportedError, match="“Export me” is already here"):
        services.transfer.import_file(user_id, path)
    again = services.transfer.import_file(user_id, path, again=True)
    assert again.thread.title == "Export me (imported)"
