"""Any export, one door: found from its content, all of a file or none of it, once."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.foreign.chat import Source
from chatdesk.services.foreign_import import ALREADY
from chatdesk.services.import_batch import AlreadyImportedError
from chatdesk.services.transfer import (
    ImportCancelled,
    ImportProgress,
    ImportStage,
    TransferError,
)
from chatdesk.store.models import Message, Thread, User
from tests.services.foreign.helpers import EXPORTS
from tests.support.exports import write_export

CHATGPT = EXPORTS / "chatgpt-conversations.json"


def _everything(services: Services) -> tuple[int, int, int]:
    """Threads, messages and users in the database (the staging ones included)."""
    with services.store.session_factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Thread, Message, User)
        )


def _zipped(tmp_path: Path, source: Path, member: str = "conversations.json") -> Path:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(source, member)
        archive.writestr("chat.html", "<html></html>")
    return path


def test_a_chatgpt_export_comes_in_whole_with_its_current_branches(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    seen: list[ImportProgress] = []
    summary = services.imports.import_path(
        user_id,
        _zipped(tmp_path, CHATGPT, "export-2024/conversations.json"),
        on_progress=seen.append,
    )
    assert summary.source is Source.CHATGPT
    titles = sorted(chat.title for chat in summary.chats)
    assert titles == ["Draw a lighthouse at dusk", "Rolling back a deploy", "Weeknight pasta"]
    assert summary.messages == sum(
        len(services.messages.list(user_id, chat.id, limit=1000).messages) for chat in summary.chats
    ) + _off_path(services, user_id)
    stages = [p.stage for p in seen]
    assert stages[0] is ImportStage.IMPORTING and stages[-1] is ImportStage.PUBLISHING
    assert seen[-1].done == seen[-1].total == 3
    assert _everything(services)[2] == 1  # the staging user went with the import


def _off_path(services: Services, user_id: int) -> int:
    """Messages of every chat that are not on the path shown (other versions)."""
    with services.store.session_factory() as session:
        total = session.scalar(
            select(func.count()).select_from(Message).where(Message.user_id == user_id)
        )
    shown = sum(
        len(services.messages.list(user_id, thread.id, limit=1000).messages)
        for thread in services.threads.list(user_id)
    )
    return (total or 0) - shown


def test_the_same_file_again_says_already_imported_and_again_makes_copies(
    services: Services, user_id: int
) -> None:
    first = services.imports.import_path(user_id, CHATGPT)
    with pytest.raises(AlreadyImportedError, match="and 2 more chats of this file are already"):
        services.imports.import_path(user_id, CHATGPT)
    assert len(services.threads.list(user_id)) == 3
    copies = services.imports.import_path(user_id, CHATGPT, again=True)
    assert len(copies.chats) == 3 and copies.messages == first.messages
    assert len(services.threads.list(user_id)) == 6


def test_a_chat_deleted_since_is_imported_again_and_the_rest_is_skipped(
    services: Services, user_id: int
) -> None:
    first = services.imports.import_path(user_id, CHATGPT)
    gone = first.chats[0]
    services.threads.delete(user_id, gone.id)
    again = services.imports.import_path(user_id, CHATGPT)
    assert [chat.title for chat in again.chats] == [gone.title]
    assert [s.reason for s in again.skipped] == [ALREADY, ALREADY]


def test_a_file_broken_at_its_end_leaves_nothing(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    data = json.loads(CHATGPT.read_text(encoding="utf-8"))
    data[-1]["mapping"] = {"x": {"id": "x", "parent": "x", "children": ["x"], "message": None}}
    broken = tmp_path / "conversations.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TransferError, match=r"conversations\[2\]"):
        services.imports.import_path(user_id, broken)
    assert _everything(services) == (0, 0, 1)


def test_a_cut_zip_leaves_nothing(services: Services, user_id: int, tmp_path: Path) -> None:
    whole = _zipped(tmp_path, CHATGPT).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(TransferError, match="damaged or incomplete zip"):
        services.imports.import_path(user_id, cut)
    assert _everything(services) == (0, 0, 1)


def test_a_cancel_while_writing_removes_what_was_written(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3  # after the first conversations were written

    with pytest.raises(ImportCancelled):
        services.imports.import_path(user_id, CHATGPT, should_stop=stop)
    assert _everything(services) == (0, 0, 1)


def test_the_picked_format_overrides_detection_and_a_wrong_pick_is_told(
    services: Services, user_id: int
) -> None:
    with pytest.raises(TransferError):
        services.imports.import_path(user_id, CHATGPT, source=Source.CLAUDE)
    assert _everything(services) == (0, 0, 1)
    summary = services.imports.import_path(user_id, CHATGPT, source=Source.CHATGPT)
    assert len(summary.chats) == 3


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("claude-conversations.json", Source.CLAUDE),
        ("open-webui-export.json", Source.OPEN_WEBUI),
        ("librechat-flat.json", Source.LIBRECHAT),
        ("librechat-tree.json", Source.LIBRECHAT),
    ],
)
def test_every_format_imports_from_its_content(
    services: Services, user_id: int, name: str, source: Source
) -> None:
    summary = services.imports.import_path(user_id, EXPORTS / name)
    assert summary.source is source and summary.chats and summary.messages
    for chat in summary.chats:
        shown = services.messages.list(user_id, chat.id).messages
        assert shown and all(m.metadata["imported"] == source.value for m in shown)
        assert chat.current_leaf_id == shown[-1].id


def test_chatdesk_json_goes_through_the_same_door(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    path = write_export(tmp_path / "mine.json", 12)
    summary = services.imports.import_path(user_id, path)
    assert summary.source is Source.CHATDESK and summary.messages == 12
    with pytest.raises(AlreadyImportedError):
        services.imports.import_path(user_id, path)


def test_an_unknown_file_is_told_in_a_sentence(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    odd = tmp_path / "notes.json"
    odd.write_text('{"hello": "world"}', encoding="utf-8")
    with pytest.raises(TransferError, match=r"cannot tell which app wrote notes\.json"):
        services.imports.import_path(user_id, odd)
