"""Telling an export's source from its content: JSON shapes, zips, archives, refusals."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from chatdesk.services.foreign import detect as detection
from chatdesk.services.foreign.chat import FormatError, Source
from chatdesk.services.foreign.detect import ExportFile, detect

from .helpers import EXPORTS

NOTHING = lambda _done: None  # noqa: E731


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("chatgpt-conversations.json", Source.CHATGPT),
        ("claude-conversations.json", Source.CLAUDE),
        ("open-webui-export.json", Source.OPEN_WEBUI),
        ("librechat-flat.json", Source.LIBRECHAT),
        ("librechat-tree.json", Source.LIBRECHAT),
    ],
)
def test_each_format_is_told_by_its_content(tmp_path: Path, name: str, source: Source) -> None:
    path = tmp_path / "export.bin"  # the name says nothing
    path.write_bytes((EXPORTS / name).read_bytes())
    found = detect(path)
    assert found == ExportFile(path, source, path.stat().st_size)
    assert list(found.chats(NOTHING))


def test_one_open_webui_chat_and_a_list_of_librechat_conversations(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text(json.dumps(json.loads((EXPORTS / "open-webui-export.json").read_text())[0]))
    assert detect(single).source is Source.OPEN_WEBUI
    several = tmp_path / "several.json"
    several.write_text("[" + (EXPORTS / "librechat-flat.json").read_text() + "]")
    assert detect(several).source is Source.LIBRECHAT


def test_chatdesk_files(tmp_path: Path) -> None:
    thread = tmp_path / "thread.json"
    thread.write_text('\ufeff{"format": "chatdesk-thread", "version": 1, "messages": []}')
    assert detect(thread).source is Source.CHATDESK
    with pytest.raises(ValueError, match="own importer"):
        next(detect(thread).chats(NOTHING))
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"format": "chatdesk-archive", "version": 1}')
    for path in (folder, folder / "manifest.json"):
        found = detect(path)
        assert (found.source, found.path) == (Source.CHATDESK_ARCHIVE, folder / "manifest.json")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_chatgpt_zip_is_read_from_its_conversations_json(tmp_path: Path) -> None:
    data = (EXPORTS / "chatgpt-conversations.json").read_bytes()
    path = _zip(
        tmp_path / "export.dat",
        {
            "chat.html": b"<html></html>",
            "user.json": b"{}",
            "export-2025/conversations.json": data,
            "__MACOSX/export-2025/conversations.json": b"junk",
        },
    )
    found = detect(path)
    assert found == ExportFile(path, Source.CHATGPT, len(data), "export-2025/conversations.json")
    with found.open() as source:
        assert source.read() == data
    assert [chat.source_id for chat in found.chats(NOTHING)] == ["conv-1", "conv-2", "conv-3"]


def test_a_claude_zip_and_a_chatdesk_archive_zip(tmp_path: Path) -> None:
    data = (EXPORTS / "claude-conversations.json").read_bytes()
    claude_zip = _zip(tmp_path / "a.zip", {"users.json": b"[]", "conversations.json": data})
    assert detect(claude_zip).source is Source.CLAUDE
    manifest = b'{"format": "chatdesk-archive", "version": 1}'
    archive = _zip(tmp_path / "b.zip", {"manifest.json": manifest, "threads/1.json": b"{}"})
    found = detect(archive)
    assert (found.source, found.member, found.size) == (
        Source.CHATDESK_ARCHIVE,
        "manifest.json",
        len(manifest),
    )
    other = _zip(tmp_path / "c.zip", {"manifest.json": b'{"format": "other"}'})
    with pytest.raises(FormatError, match=r"without a conversations\.json"):
        detect(other)


def test_a_forced_source_skips_detection_and_its_reader_refuses_another_format(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.json"
    path.write_bytes((EXPORTS / "claude-conversations.json").read_bytes())
    found = detect(path, Source.CHATGPT)
    assert found.source is Source.CHATGPT
    with pytest.raises(FormatError, match="not a ChatGPT conversation"):
        list(found.chats(NOTHING))
    assert detect(path, Source.CHATDESK).source is Source.CHATDESK
    zipped = _zip(tmp_path / "x.zip", {"conversations.json": path.read_bytes()})
    with pytest.raises(FormatError, match="not a chatdesk chat"):
        detect(zipped, Source.CHATDESK)
    with pytest.raises(FormatError, match="not a chatdesk archive"):
        detect(zipped, Source.CHATDESK_ARCHIVE)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "The file is empty"),
        (b"  \n ", "The file is empty"),
        (b"[]", "empty list"),
        (b'[{"hello": "world"}]', "cannot tell which app"),
        (b'{"format": "something"}', "cannot tell which app"),
        (b"42", "cannot tell which app"),
        ('[{"title": "x"}]'.encode("utf-16"), "UTF-16"),
        (b'[{"title": "caf\xe9"}]', "not UTF-8"),
        (b"[{title: 1}]", "not JSON"),
    ],
)
def test_refusals_say_what_is_wrong(tmp_path: Path, data: bytes, says: str) -> None:
    path = tmp_path / "file.json"
    path.write_bytes(data)
    with pytest.raises(FormatError, match=says) as caught:
        detect(path)
    if says == "cannot tell which app":
        assert "ChatGPT" in str(caught.value) and "LibreChat" in str(caught.value)


def test_detection_reads_a_bounded_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.json"
    path.write_text('[{"title": "' + "x" * (3 << 20) + '", "mapping": {}}]')
    read = []
    real = detection._Bounded.read

    def counted(self: detection._Bounded, size: int = -1) -> bytes:
        data = real(self, size)
        read.append(len(data))
        return data

    monkeypatch.setattr(detection._Bounded, "read", counted)
    with pytest.raises(FormatError, match="cannot tell"):
        detect(path)
    assert sum(read) <= detection.SNIFF_BYTES


def test_damaged_truncated_and_memberless_zips(tmp_path: Path) -> None:
    data = (EXPORTS / "chatgpt-conversations.json").read_bytes()
    good = _zip(tmp_path / "good.zip", {"conversations.json": data})
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(FormatError, match="damaged or incomplete zip"):
        detect(truncated)
    empty = _zip(tmp_path / "empty.zip", {})
    with pytest.raises(FormatError, match=r"without a conversations\.json"):
        detect(empty)


def test_a_member_damaged_inside_is_refused_while_reading(tmp_path: Path) -> None:
    data = (EXPORTS / "chatgpt-conversations.json").read_bytes()
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("conversations.json", data)
    raw = bytearray(path.read_bytes())
    spot = raw.index(b"helm rollback")
    raw[spot : spot + 4] = b"HELM"  # the CRC no longer matches
    path.write_bytes(bytes(raw))
    found = detect(path)  # detection stops at the first conversation's keys
    assert found.source is Source.CHATGPT
    with pytest.raises(FormatError, match="damaged or incomplete zip"):
        list(found.chats(NOTHING))


def test_an_encrypted_zip_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "locked.zip", {"conversations.json": b"[]"})
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.index(signature) + offset
        raw[at] |= 0x1  # the "encrypted" flag
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="encrypted"):
        detect(path)


def test_files_and_members_over_the_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detection, "MAX_IMPORT_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_bytes((EXPORTS / "claude-conversations.json").read_bytes())
    with pytest.raises(FormatError, match="chatdesk imports files up to 100 bytes"):
        detect(path)
    zipped = _zip(tmp_path / "big.zip", {"conversations.json": path.read_bytes()})
    assert zipped.stat().st_size < path.stat().st_size
    with pytest.raises(FormatError, match=r"big.zip/conversations.json is [\d,]+ bytes"):
        detect(zipped)


def test_a_folder_without_an_export_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="not an unpacked chatdesk archive"):
        detect(tmp_path)
    with pytest.raises(FormatError, match="Cannot read"):
        detect(tmp_path / "nowhere.json")
    (tmp_path / "conversations.json").write_bytes(
        (EXPORTS / "chatgpt-conversations.json").read_bytes()
    )
    assert detect(tmp_path).source is Source.CHATGPT


def test_open_gives_the_files_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'[{"mapping": {}}]')
    with detect(path).open() as source:
        assert isinstance(source, io.BufferedReader)
        assert source.read() == b'[{"mapping": {}}]'
