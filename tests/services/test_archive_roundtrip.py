"""An archive of every chat, imported into an empty data dir, gives back the same history:
the two databases compared table by table, row for row, every column of the models
(ids, and columns holding ids, mapped to the rows they name)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from chatdesk import redact
from chatdesk.services import Services
from chatdesk.services import message_tree as tree
from chatdesk.services.executions import LogEntry, Tokens, ToolCallSummary
from chatdesk.store.base import Base
from chatdesk.store.migrate import Store, open_store
from chatdesk.store.models import Thread
from chatdesk.vocabulary import ExecutionStatus, ToolRule
from tests.support import attached

E = ExecutionStatus
HOSTILE = "NUL \x00, lone \ud800 surrogate, 日本語 🎉, RTL \u202e, ``` open fence"
TABLES = {
    "threads",
    "messages",
    "executions",
    "execution_logs",
    "thread_tool_rules",
    "attachments",
    "message_attachments",
    "attachment_holds",
    "thread_knowledge",
}
"""What a chat is made of (``users`` is who imports: the acting user). Holds are
pending state and never travel: both sides have none once every file is sent, so an
import that left its staging holds behind fails the comparison."""
NOT_A_CHAT = {"prompts": "the person's prompt library, exported on its own (Prompts…)"}
"""Tables that are no part of any chat, so no chat archive carries them."""
LEFT_OUT = {
    ("threads", "user_id"): "the chats belong to whoever imports them",
    ("messages", "user_id"): "the chats belong to whoever imports them",
    ("executions", "owner"): "an imported run is over: no client owns it",
    ("executions", "lease_expires_at"): "an imported run is over: no lease to renew",
    ("threads", "imported_from"): "an import names the file it came from (not imported twice)",
}


def _run(services: Services, me: int, sent: Any, status: E, text: str, steps: int) -> int:
    """Start ``sent``'s run, log ``steps`` steps (every third a tool call), end it."""
    run = sent.execution.id
    services.executions.start(me, run)
    entries = [
        LogEntry(
            "tool_call" if n % 3 == 2 else "agent_step",
            agent_role="Researcher",
            task_name=f"task {n // 10}",
            detail={
                "server": "parrot",
                "tool": "echo",
                "arguments": {"text": f"call {n}", "nested": [[{"deep": n}]]},
                "result": f"echoed {n} {HOSTILE}",
            }
            if n % 3 == 2
            else {"thought": f"step {n}", "tokens": n},
        )
        for n in range(steps)
    ]
    for start in range(0, len(entries), 40):
        services.executions.append_logs(me, run, entries[start : start + 40])
    services.executions.finish(
        me,
        run,
        status,
        text=text,
        error="provider said no" if status is E.FAILED else None,
        model="openai/test-model",
        tokens=Tokens(11, 22, 33),
        tool_calls=[ToolCallSummary("parrot", "echo", "auto", 12, False)] if steps else (),
    )
    return run


def _history(services: Services, me: int, files: Path) -> None:
    """Chats with versions and flips, failed and cancelled runs, long traces, settings,
    attached files (a PNG and a PDF on one message, the PNG again under another name in
    another chat, a text file)."""
    files.mkdir(exist_ok=True)
    photo = services.attachments.add(me, attached.png(files / "map.png", (40, 30), "blue"))
    plan = services.attachments.add(me, attached.pdf(files / "plan.pdf", "Day 1: Lisbon"))
    notes = services.attachments.add(me, _text(files / "notes.md", "# Packing 日本語\n"))
    main = services.threads.create(
        me, "Trip planning", crew="research-writer", model="openai/x", system_prompt="Be brief."
    )
    first = services.messages.send(
        me, main.id, "Where should I go? " + HOSTILE, attachments=[photo, plan]
    )
    _run(services, me, first, E.COMPLETED, "Lisbon. " + HOSTILE, steps=250)
    again = services.messages.regenerate(me, first.message.id)  # a second version of the reply
    _run(services, me, again, E.FAILED, "half an answ", steps=5)
    retried = services.messages.retry(me, first.message.id)
    _run(services, me, retried, E.COMPLETED, "Porto.", steps=3)
    follow = services.messages.send(me, main.id, "And in winter?")
    _run(services, me, follow, E.CANCELLED, "Madei", steps=2)
    edited = services.messages.send_version(me, follow.message.id, "And in spring?")
    _run(services, me, edited, E.COMPLETED, "Seville.", steps=1)
    reply = services.messages.list(me, main.id, limit=100).messages[1]
    services.messages.switch_version(me, reply.id, -1, find_leaf=False)  # a flip, leaf unset
    services.messages.send(
        me, main.id, "a note to self", triggers_execution=False, attachments=[notes]
    )
    services.threads.update(me, main.id, pinned=True, draft="half-typed 日本語 🎉")
    services.tool_rules.set_rule(me, main.id, "parrot", ToolRule.DISABLED, True)
    services.tool_rules.set_rule(me, main.id, "time/now", ToolRule.APPROVED, True)
    guide = services.attachments.add(me, _text(files / "guide.txt", "Trams run until 23:00.\n"))
    services.knowledge.add(me, main.id, [guide, plan])  # one kept only here, one also sent

    again_photo = services.attachments.add(me, attached.png(files / "same.png", (40, 30), "blue"))
    for title in ("New chat", "New chat", "../../etc/passwd", "CON"):  # alike and hostile names
        chat = services.threads.create(me, title)
        carried = [again_photo] if title == "CON" else []
        sent = services.messages.send(me, chat.id, f"hello from {title}", attachments=carried)
        _run(services, me, sent, E.COMPLETED, f"hi, {title}", steps=4)
    services.threads.create(me, "Empty chat")


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _stored_bytes(services: Services) -> dict[str, bytes]:
    """Every stored attachment file, by the digest it is stored under."""
    files = services.attachments.files
    return {digest: files.path(digest).read_bytes() for digest in files.stored()}


def _id_columns(table: Table) -> dict[str, str]:
    """The columns of ``table`` holding ids, and the table each names."""
    found = {column.name: table.name for column in table.primary_key.columns}
    for constraint in table.foreign_key_constraints:
        for column, element in zip(constraint.columns, constraint.elements, strict=True):
            if element.column.primary_key:  # the id it names (not its thread or user)
                found[column.name] = element.column.table.name
    return found


def _canonical(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the chat tables, ids replaced by a key that names the row by what it
    holds (the same in both databases), every other column as stored."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    assert set(tables) == TABLES | {"users"} | set(NOT_A_CHAT), "a new table: export it too"
    with store.engine.connect() as connection:
        rows = {name: list(connection.execute(select(tables[name])).mappings()) for name in TABLES}
    keys: dict[tuple[str, int], Any] = {}
    for row in rows["threads"]:
        keys["threads", row["id"]] = (row["title"], row["created_at"])
    for row in rows["executions"]:
        keys["executions", row["id"]] = (keys["threads", row["thread_id"]], row["created_at"])
    for row in rows["messages"]:
        keys["messages", row["id"]] = (
            keys["threads", row["thread_id"]],
            row["created_at"],
            row["role"],
            row["content"],
        )
    for row in rows["execution_logs"]:
        keys["execution_logs", row["id"]] = (keys["executions", row["execution_id"]], row["seq"])
    for row in rows["thread_tool_rules"]:
        keys["thread_tool_rules", row["id"]] = (row["tool"], row["rule"])
    for row in rows["attachments"]:
        keys["attachments", row["id"]] = row["sha256"]
    leaves = _resolved_leaves(store)
    canonical: dict[str, list[tuple[Any, ...]]] = {}
    for name in sorted(TABLES):
        table = tables[name]
        ids = _id_columns(table)
        if name == "messages":
            ids["parent_id"] = "messages"  # part of a composite key with its thread
        ids.pop("position", None)  # of a message's files: a place, not an id
        columns = [c.name for c in table.columns if (name, c.name) not in LEFT_OUT]
        assert len(columns) == len(table.columns) - sum(t == name for t, _c in LEFT_OUT)
        out = []
        for row in rows[name]:
            values = dict(row)
            if name == "threads" and values["current_leaf_id"] is None:
                values["current_leaf_id"] = leaves[row["id"]]  # "follow the chosen versions"
            out.append(
                tuple(
                    (
                        c,
                        keys[ids[c], values[c]]
                        if c in ids and values[c] is not None
                        else values[c],
                    )
                    for c in columns
                )
            )
        canonical[name] = sorted(out, key=repr)
    return canonical


def _resolved_leaves(store: Store) -> dict[int, int | None]:
    """Where each chat's shown path ends (what an unset leaf means)."""
    session = store.session_factory()
    try:
        return {t.id: tree.current_leaf(session, t) for t in session.scalars(select(Thread))}
    finally:
        session.close()


@pytest.fixture
def restored(tmp_path: Path) -> Iterator[Services]:
    """An empty data dir's services."""
    store = open_store(f"sqlite:///{tmp_path / 'restored' / 'chatdesk.db'}")
    yield Services(store, attachments_dir=tmp_path / "restored" / "attachments")
    store.close()


@pytest.mark.parametrize("as_zip", [True, False], ids=["zip", "folder"])
def test_an_archive_gives_back_the_same_history_row_for_row(
    services: Services, user_id: int, restored: Services, tmp_path: Path, as_zip: bool
) -> None:
    if services.store.engine.dialect.name != "sqlite":
        pytest.skip("compares two SQLite files")
    _history(services, user_id, tmp_path / "files")
    target = tmp_path / ("all.zip" if as_zip else "all")
    written = services.transfer.export_archive(user_id, target, as_zip=as_zip)
    assert (written.chats, written.skipped) == (6, ())
    assert written.steps == 250 + 5 + 3 + 2 + 1 + 4 * 4

    me = restored.users.ensure()
    result = restored.transfer.import_archive(me, target)
    assert [t.title for t in result.threads] == [t.title for t in services.threads.list(user_id)]
    assert [t.title for t in restored.threads.list(me)] == [
        t.title for t in services.threads.list(user_id)
    ]  # the same chat list, in the same order, "New chat" twice
    original, copy = _canonical(services.store), _canonical(restored.store)
    for table in sorted(TABLES):
        assert copy[table] == original[table], table
    assert len(original["attachments"]) == 4 and len(original["message_attachments"]) == 4
    assert len(original["thread_knowledge"]) == 2  # the chat's documents came back too
    assert _stored_bytes(restored) == _stored_bytes(services)
    assert len(_stored_bytes(services)) == 4


def test_the_comparison_sees_a_dropped_column(
    services: Services, user_id: int, restored: Services, tmp_path: Path
) -> None:
    """The row-for-row comparison fails when one column of one row differs."""
    _history(services, user_id, tmp_path / "files")
    services.transfer.export_archive(user_id, tmp_path / "all.zip", as_zip=True)
    me = restored.users.ensure()
    restored.transfer.import_archive(me, tmp_path / "all.zip")
    with restored.store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE execution_logs SET task_name = NULL WHERE seq = 7")
    assert (
        _canonical(restored.store)["execution_logs"] != _canonical(services.store)["execution_logs"]
    )


def test_a_secret_in_a_step_never_reaches_the_archive(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.setattr(redact, "_by_length", ())
    secret = "hunter2-archive-secret-value"
    chat = services.threads.create(user_id, "Leaky")
    sent = services.messages.send(user_id, chat.id, "call the tool")
    assert sent.execution is not None
    # written before chatdesk knew the key (an older chatdesk, a key read later)
    services.executions.append_logs(
        user_id,
        sent.execution.id,
        [LogEntry("tool_call", agent_role=secret, detail={"result": f"echo {secret}", secret: 1})],
    )
    redact.register_secret(secret)
    services.transfer.export_archive(user_id, tmp_path / "all.zip", as_zip=True)
    services.transfer.export_archive(user_id, tmp_path / "all", as_zip=False)
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        members = [archive.read(name) for name in archive.namelist()]
    files = [p.read_bytes() for p in (tmp_path / "all").rglob("*") if p.is_file()]
    assert len(members) == len(files) == 3
    assert all(secret.encode() not in data for data in [*members, *files])
    assert any(b"echo [redacted]" in data for data in members)
