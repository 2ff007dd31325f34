"""One chat's files in its JSON (base64, checked, restored by the import) and in its
Markdown (listed by name, size and type, never a link that loads anything)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import func, select

from chatdesk.services import Services, transfer
from chatdesk.services.errors import ValidationError
from chatdesk.services.transfer import ImportCancelled, TransferError
from chatdesk.store.migrate import open_store
from chatdesk.store.models import Attachment, AttachmentHold, MessageAttachment
from tests.support import attached


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Services]:
    """Another data dir (its own database and attachments)."""
    store = open_store(f"sqlite:///{tmp_path / 'elsewhere' / 'chatdesk.db'}")
    yield Services(store, attachments_dir=tmp_path / "elsewhere" / "attachments")
    store.close()


def _chat(services: Services, me: int, files: Path) -> tuple[int, str, str]:
    files.mkdir(exist_ok=True)
    photo = services.attachments.add(me, attached.png(files / "photo.png", (30, 20)))
    plan = services.attachments.add(me, attached.pdf(files / "plan.pdf", "Day 1"))
    chat = services.threads.create(me, "With files")
    sent = services.messages.send(me, chat.id, "look", attachments=[photo, plan])
    services.messages.send(me, chat.id, "the photo again", attachments=[photo])
    assert sent.execution is not None
    return chat.id, photo.sha256, plan.sha256


def _rows(services: Services) -> tuple[int, int, int]:
    with services.store.session_factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Attachment, MessageAttachment, AttachmentHold)
        )


def _on_disk(services: Services) -> list[str]:
    root = services.attachments.files.root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_chat_json_carries_its_files_and_brings_them_back(
    services: Services, user_id: int, elsewhere: Services, tmp_path: Path
) -> None:
    chat, photo, plan = _chat(services, user_id, tmp_path / "files")
    path = tmp_path / "chat.json"
    services.transfer.export_json(user_id, chat, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1
    carried = {one["sha256"]: one for one in document["attachments"]}
    assert sorted(carried) == sorted([photo, plan])  # the photo once, though used twice
    for digest, one in carried.items():
        data = base64.b64decode(one["data"])
        assert hashlib.sha256(data).hexdigest() == digest and len(data) == one["size"]
        assert data == services.attachments.files.path(digest).read_bytes()

    me = elsewhere.users.ensure()
    result = elsewhere.transfer.import_file(me, path)
    messages = elsewhere.messages.list(me, result.thread.id, limit=10).messages
    names = [[f.file_name for f in m.attachments] for m in messages if m.attachments]
    assert names == [["photo.png", "plan.pdf"], ["photo.png"]]
    restored = messages[0].attachments[0]
    assert (restored.kind.value, restored.width, restored.height) == ("image", 30, 20)
    assert _rows(elsewhere) == (2, 3, 0)
    for digest in (photo, plan):
        copy = elsewhere.attachments.files.path(digest).read_bytes()
        assert copy == services.attachments.files.path(digest).read_bytes()

    # into the same data dir: the files are there already, nothing is copied again
    before = _rows(services)
    services.transfer.import_file(user_id, path, again=True)
    assert _rows(services) == (before[0], before[1] + 3, 0)


def test_an_archive_chat_json_carries_no_bytes(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    chat, photo, _plan = _chat(services, user_id, tmp_path / "files")
    path = tmp_path / "chat.json"
    with path.open("w", encoding="utf-8") as out:
        services.transfer.write_json(user_id, chat, out)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert "attachments" not in document
    assert document["messages"][-1]["attachments"] == [
        {"sha256": photo, "file_name": "photo.png", "position": 0}
    ]
    # alone, such a file names files it does not carry
    with pytest.raises(TransferError, match="which the file lacks"):
        services.transfer.import_file(user_id, path, again=True)


def _exported(services: Services, me: int, tmp_path: Path) -> tuple[dict[str, Any], str, str]:
    chat, photo, plan = _chat(services, me, tmp_path / "files")
    path = tmp_path / "chat.json"
    services.transfer.export_json(me, chat, path)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document, photo, plan


def _entry(document: dict[str, Any], digest: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in document["attachments"] if e["sha256"] == digest)
    return found


def _flip_a_byte(document: dict[str, Any], digest: str) -> None:
    entry = _entry(document, digest)
    data = bytearray(base64.b64decode(entry["data"]))
    data[-2] ^= 0xFF
    entry["data"] = base64.b64encode(bytes(data)).decode()


@pytest.mark.parametrize(
    ("case", "told"),
    [
        ("bytes-not-its-hash", "whose SHA-256 or size is not the one described"),
        ("not-base64", "not base64"),
        ("huge", "the most a file attached can be"),
        ("dotdot", "is not a SHA-256"),
        ("kind-lies", "its bytes are 'pdf'"),
        ("carried-twice", "is carried twice"),
        ("eleven-files", "at most 10 files"),
    ],
)
def test_a_hostile_chat_json_is_refused_and_leaves_nothing(
    services: Services, user_id: int, elsewhere: Services, tmp_path: Path, case: str, told: str
) -> None:
    document, photo, plan = _exported(services, user_id, tmp_path)
    if case == "bytes-not-its-hash":
        _flip_a_byte(document, plan)
    elif case == "not-base64":
        _entry(document, plan)["data"] = "%%%%"
    elif case == "huge":
        _entry(document, plan)["size"] = 10**12
    elif case == "dotdot":
        document["messages"][0]["attachments"][0]["sha256"] = "../../etc/passwd"
    elif case == "kind-lies":
        _entry(document, plan)["kind"] = "text"
        _entry(document, plan)["mime_type"] = "text/plain"
    elif case == "carried-twice":
        document["attachments"].append(dict(_entry(document, photo)))
    else:
        link = document["messages"][0]["attachments"][0]
        document["messages"][0]["attachments"] = [{**link, "position": n} for n in range(11)]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    me = elsewhere.users.ensure()
    with pytest.raises(TransferError, match=told):
        elsewhere.transfer.import_file(me, path)
    assert elsewhere.threads.list(me) == []
    assert _rows(elsewhere) == (0, 0, 0)
    assert _on_disk(elsewhere) == []


def test_a_cancelled_chat_import_leaves_no_attachment_file(
    services: Services, user_id: int, elsewhere: Services, tmp_path: Path
) -> None:
    document, _photo, _plan = _exported(services, user_id, tmp_path)
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    stopped_with: list[list[str]] = []

    def stop_once_stored() -> bool:
        files = _on_disk(elsewhere)
        if len(files) == 2:
            stopped_with.append(files)
            return True
        return False

    with pytest.raises(ImportCancelled):
        elsewhere.transfer.import_file(elsewhere.users.ensure(), path, should_stop=stop_once_stored)
    assert stopped_with  # it stopped with both files stored
    assert _rows(elsewhere) == (0, 0, 0)
    assert _on_disk(elsewhere) == []


def test_too_many_bytes_for_one_json_are_refused(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat, _photo, _plan = _chat(services, user_id, tmp_path / "files")
    monkeypatch.setattr(transfer, "MAX_EMBEDDED_BYTES", 100)
    with pytest.raises(ValidationError, match="export it in an archive instead"):
        services.transfer.export_json(user_id, chat, tmp_path / "chat.json")
    assert not (tmp_path / "chat.json").exists()


def test_markdown_lists_the_files_and_loads_nothing(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    hostile = [
        "![x](http://evil.example/pixel.png).png",
        "<img src=x onerror=alert(1)>.png",
        "`a` ``b``.png",
        "[click](javascript:alert(1)).png",
    ]
    carried = [
        services.attachments.add_bytes(
            user_id, (attached.png(files / f"{n}.png", (n + 2, 2))).read_bytes(), name
        )
        for n, name in enumerate(hostile)
    ]
    plan = services.attachments.add(user_id, attached.pdf(files / "plan.pdf"))
    chat = services.threads.create(user_id, "Files")
    services.messages.send(user_id, chat.id, "look", attachments=[*carried, plan])
    path = tmp_path / "chat.md"
    services.transfer.export_markdown(user_id, chat.id, path)
    text = path.read_text(encoding="utf-8")
    assert "**Attached:**" in text
    assert f"(application/pdf, {_size(plan.size_bytes)})" in text
    tokens = MarkdownIt("commonmark").parse(text)
    inline = [c for t in tokens if t.children for c in t.children]
    kinds = {c.type for c in inline} | {t.type for t in tokens}
    assert not kinds & {"image", "link_open", "html_inline", "html_block"}
    spans = [c.content for c in inline if c.type == "code_inline"]
    assert spans[: len(hostile) + 1] == [*(c.file_name for c in carried), "plan.pdf"]
    assert "<img" in spans[1] and "`" in spans[2]  # shown as typed, not run


def _size(size: int) -> str:
    return f"{size / 1000:,.1f} kB" if size >= 1000 else f"{size:,} bytes"
