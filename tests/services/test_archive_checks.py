"""Hostile archives and traces are refused with their place, and nothing is imported."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chatdesk.services import Services
from chatdesk.services.archive import ArchiveError, safe_name
from chatdesk.services.archive_reading import read_manifest
from chatdesk.services.executions import LogEntry
from chatdesk.services.transfer import TransferError


def _chat(services: Services, user_id: int, title: str = "Chat") -> int:
    chat = services.threads.create(user_id, title)
    sent = services.messages.send(user_id, chat.id, "hello")
    assert sent.execution is not None
    services.executions.append_logs(user_id, sent.execution.id, [LogEntry("a"), LogEntry("b")])
    return chat.id


def _document(services: Services, user_id: int, thread_id: int) -> dict[str, Any]:
    out = io.StringIO()
    services.transfer.write_json(user_id, thread_id, out)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


@pytest.mark.parametrize(
    ("change", "told"),
    [
        (lambda t: t.__setitem__("trace", {}), "executions[0].trace: expected a list."),
        (lambda t: t["trace"][1].__setitem__("seq", 0), "executions[0].trace[1].seq: 0 does"),
        (lambda t: t["trace"][0].__setitem__("seq", -1), "executions[0].trace[0].seq: expected"),
        (lambda t: t["trace"][0].__setitem__("event", "x" * 101), "trace[0].event: at most 100"),
        (lambda t: t["trace"][0].__setitem__("agent_role", "a\x00b"), "agent_role: holds a NUL"),
        (lambda t: t["trace"][0].__setitem__("task_name", "t" * 501), "task_name: at most 500"),
        (lambda t: t["trace"][0].__setitem__("detail", []), "trace[0].detail: expected an object"),
        (
            lambda t: t["trace"][0].__setitem__("detail", _nested(40)),
            "trace[0].detail: nested more than 32 levels deep.",
        ),
        (lambda t: t["trace"][0].__setitem__("created_at", "2024-01-01"), "has no time zone"),
        (
            lambda t: t.__setitem__("steps", 3),
            "executions[0].steps: 3 steps, but its trace holds 2",
        ),
    ],
)
def test_a_bad_step_is_refused_with_its_place(
    services: Services, user_id: int, change: Any, told: str
) -> None:
    document = _document(services, user_id, _chat(services, user_id))
    change(document["executions"][0])
    before = services.threads.count(user_id)
    with pytest.raises(TransferError) as refused:
        services.transfer.import_json(user_id, json.dumps(document))
    assert told in str(refused.value)
    assert services.threads.count(user_id) == before


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_a_file_without_traces_or_extras_still_imports(services: Services, user_id: int) -> None:
    document = _document(services, user_id, _chat(services, user_id))
    for key in ("pinned", "draft", "updated_at", "tool_rules"):
        document["thread"].pop(key)
    document["executions"][0].pop("trace")  # an older chatdesk's file
    result = services.transfer.import_json(user_id, json.dumps(document), again=True)
    runs = services.executions.runs_for_message(
        user_id, services.messages.list(user_id, result.thread.id, limit=5).messages[0].id
    )
    assert [services.executions.logs(user_id, run.id) for run in runs] == [[]]


def test_safe_names() -> None:
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("CON") == "_CON" and safe_name("lpt1.txt") == "_lpt1.txt"
    assert safe_name('a<b>c:"d|e?f*g\\h') == "a-b-c-d-e-f-g-h"
    assert safe_name("  ... \u202e\x00 ") == "chat"
    assert safe_name("日本語 🎉 trip") == "日本語-🎉-trip"
    assert len(safe_name("x" * 500)) == 60


def _zip(path: Path, manifest: object, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _manifest(**chat: object) -> dict[str, object]:
    entry = {"title": "x", "json": "chats/0001-x.json", "markdown": "chats/0001-x.md"}
    entry |= {"messages": 1, "executions": 1, **chat}
    return {"format": "chatdesk-archive", "version": 1, "chats": [entry]}


@pytest.mark.parametrize(
    ("manifest", "members", "told"),
    [
        ({"format": "other"}, {}, "is not a chatdesk archive manifest"),
        ({"format": "chatdesk-archive", "version": 2, "chats": []}, {}, "by a newer chatdesk"),
        (_manifest(json="../evil.json"), {}, "leaves the archive's chats folder"),
        (_manifest(json="/etc/passwd.json"), {}, "leaves the archive's chats folder"),
        (_manifest(json="chats\\..\\x.json"), {}, "leaves the archive's chats folder"),
        (_manifest(json="C:/x.json"), {}, "leaves the archive's chats folder"),
        (_manifest(markdown="chats/0001-x.json"), {}, "is not a .md file"),
        (_manifest(), {"chats/0001-x.md": b""}, "names chats/0001-x.json, which is not in it"),
        (_manifest(messages=-1), {}, "chats[0].messages: expected a whole number"),
        (_manifest(title=5), {}, "chats[0].title: expected text"),
    ],
)
def test_a_hostile_manifest_is_refused_naming_the_place(
    tmp_path: Path, manifest: object, members: dict[str, bytes], told: str
) -> None:
    path = _zip(tmp_path / "a.zip", manifest, members)
    with pytest.raises(ArchiveError) as refused:
        read_manifest(path).close()
    assert told in str(refused.value) and "a.zip" in str(refused.value)


def test_a_zip_bomb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    # the fastest deflate: packing a gigabyte at the default level takes ~20 s
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("manifest.json", json.dumps(_manifest()))
        archive.writestr("chats/0001-x.md", b"")
        with archive.open("chats/0001-x.json", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(1025):  # 1 GiB and a bit of zeros, a megabyte or so packed
                member.write(block)
    assert path.stat().st_size < 5 << 20
    with pytest.raises(ArchiveError, match="would unpack to 1,074,790,400 bytes"):
        read_manifest(path)


def test_a_folder_link_out_of_the_archive_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    (folder / "chats").mkdir(parents=True)
    (tmp_path / "outside.json").write_text("{}", encoding="utf-8")
    (folder / "chats" / "0001-x.json").symlink_to(tmp_path / "outside.json")
    (folder / "chats" / "0001-x.md").write_text("", encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps(_manifest()), encoding="utf-8")
    with pytest.raises(ArchiveError, match="leaves the folder"):
        read_manifest(folder / "manifest.json")


def test_a_manifest_that_lies_about_counts_imports_nothing(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    _chat(services, user_id, "First")
    _chat(services, user_id, "Second")
    services.transfer.export_archive(user_id, tmp_path / "all", as_zip=False)
    manifest_path = tmp_path / "all" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["chats"][1]["messages"] = 7
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    fresh = services.users.ensure("someone else")
    with pytest.raises(ArchiveError, match=r"says chats/0002-First\.json holds 7 messages"):
        services.transfer.import_archive(fresh, tmp_path / "all")
    assert services.threads.count(fresh) == 0


def test_a_bad_chat_in_an_archive_names_its_member_and_imports_nothing(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    _chat(services, user_id, "First")
    _chat(services, user_id, "Second")
    services.transfer.export_archive(user_id, tmp_path / "all", as_zip=False)
    member = tmp_path / "all" / "chats" / "0002-First.json"
    document = json.loads(member.read_text(encoding="utf-8"))
    document["messages"][0]["role"] = "robot"
    member.write_text(json.dumps(document), encoding="utf-8")
    fresh = services.users.ensure("someone else")
    with pytest.raises(ArchiveError, match=r"chats/0002-First.json: messages\[0\].role"):
        services.transfer.import_archive(fresh, tmp_path / "all")
    assert services.threads.count(fresh) == 0
