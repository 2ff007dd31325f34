"""Which app wrote a file the person picked, told from its content (never its name).

A zip (known by its first bytes) is an export of ChatGPT or Claude when it holds a
``conversations.json`` (maybe in a folder), a chatdesk archive when its
``manifest.json`` says so; anything else is JSON whose start (at most ``SNIFF_BYTES``,
read as ijson events) shows its shape. Every refusal is a ``FormatError`` whose text a
person can act on. ``ExportFile`` then opens the JSON to read (the file or the zip
member) and hands it to the reader of its source.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import ijson

from chatdesk.services.foreign import chatgpt, claude, librechat, open_webui
from chatdesk.services.foreign.chat import (
    ForeignChat,
    FormatError,
    Reader,
    Source,
    Step,
)
from chatdesk.services.foreign.common import GuardedReader, Replay, TooDeep, top_level
from chatdesk.services.json_stream import FAST, NOT_UTF8, SCAN_BYTES
from chatdesk.services.json_stream import _reason as parse_reason
from chatdesk.services.transfer import MAX_IMPORT_BYTES

SNIFF_BYTES = SCAN_BYTES
"""How much of a file is read to tell its format (1 MiB)."""
CONVERSATIONS = "conversations.json"
MANIFEST = "manifest.json"
ARCHIVE_FORMAT = "chatdesk-archive"
THREAD_FORMAT = "chatdesk-thread"
_SNIFF_READS = 1024
"""Bytes per read while sniffing: nesting past the readers' limit stops the sniff where
it starts, after the keys before it were seen (a chat nested in its replies is deep)."""
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
READERS: dict[Source, Reader] = {
    Source.CHATGPT: chatgpt.read_chats,
    Source.CLAUDE: claude.read_chats,
    Source.OPEN_WEBUI: open_webui.read_chats,
    Source.LIBRECHAT: librechat.read_chats,
}
WHAT_CHATDESK_READS = (
    "chatdesk reads chats exported from chatdesk (a chat's .json or an archive), ChatGPT "
    "and Claude (their data export: the .zip or its conversations.json), Open WebUI "
    "(Settings > Chats > Export) and LibreChat (a conversation exported as JSON)."
)
_DAMAGED_ZIP = (zipfile.BadZipFile, zlib.error, EOFError)


@dataclass(frozen=True)
class ExportFile:
    """A file to import: its source and the JSON to read in it.

    ``size`` is the bytes of that JSON (uncompressed, for a zip member); ``member`` the
    zip member holding it (None: the file itself). An unpacked chatdesk archive is
    given by its ``manifest.json`` (the archive is that file's folder).
    """

    path: Path
    source: Source
    size: int
    member: str | None = None

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The JSON's bytes: the file, or the member read from the zip."""
        try:
            if self.member is None:
                with self.path.open("rb") as source:
                    yield source
                return
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as source:
                yield source
        except OSError as error:
            reason = error.strerror or str(error)
            raise FormatError("", f"Cannot read {self.path.name}: {reason}.") from None
        except _DAMAGED_ZIP:
            raise FormatError("", _damaged(self.path)) from None

    def chats(self, step: Step) -> Iterator[ForeignChat]:
        """The conversations of a foreign export, one at a time (``Reader`` contract)."""
        reader = READERS.get(self.source)
        if reader is None:
            raise ValueError(f"{self.source} files are read by chatdesk's own importer")
        with self.open() as source:
            yield from reader(source, step)


def detect(path: Path, forced: Source | None = None) -> ExportFile:
    """The export in ``path`` (a file, zip or unpacked archive folder) and its source.

    ``forced`` (picked by the person) skips telling the JSON's shape; the reader then
    still refuses a file that is not of that source, saying so.
    """
    if path.is_dir():
        return _folder(path, forced)
    try:
        size = path.stat().st_size
        with path.open("rb") as source:
            magic = source.read(4)
            if magic in _ZIP_MAGIC:
                return _zip(path, forced)
            if size > MAX_IMPORT_BYTES:
                raise FormatError("", _too_big(path.name, size))
            source.seek(0)
            found = forced or _sniff(source, path.name)
    except OSError as error:
        reason = error.strerror or str(error)
        raise FormatError("", f"Cannot read {path.name}: {reason}.") from None
    return ExportFile(path, found, size)


def _folder(path: Path, forced: Source | None) -> ExportFile:
    manifest = path / MANIFEST
    if manifest.is_file() and forced in (None, Source.CHATDESK_ARCHIVE):
        with manifest.open("rb") as source:
            if _is_archive_manifest(source):
                return ExportFile(manifest, Source.CHATDESK_ARCHIVE, manifest.stat().st_size)
    conversations = path / CONVERSATIONS
    if conversations.is_file():
        return detect(conversations, forced)
    raise FormatError(
        "",
        f"The folder {path.name} is not an unpacked chatdesk archive (no {MANIFEST}) and "
        f"holds no {CONVERSATIONS}. {WHAT_CHATDESK_READS}",
    )


def _zip(path: Path, forced: Source | None) -> ExportFile:
    try:
        with zipfile.ZipFile(path) as archive:
            return _zip_member(path, archive, forced)
    except _DAMAGED_ZIP:
        raise FormatError("", _damaged(path)) from None
    except NotImplementedError:  # a compression method Python cannot read
        raise FormatError(
            "",
            f"{path.name} is compressed in a way chatdesk cannot read; unpack it and "
            f"pick its {CONVERSATIONS}.",
        ) from None


def _zip_member(path: Path, archive: zipfile.ZipFile, forced: Source | None) -> ExportFile:
    if forced is Source.CHATDESK:
        raise FormatError("", f"{path.name} is a zip archive, not a chatdesk chat (.json).")
    infos = [info for info in archive.infolist() if not info.is_dir()]
    manifest = next((info for info in infos if info.filename == MANIFEST), None)
    if manifest is not None and forced in (None, Source.CHATDESK_ARCHIVE):
        _check_member(path, manifest)
        with archive.open(manifest) as source:
            if _is_archive_manifest(source):
                return ExportFile(path, Source.CHATDESK_ARCHIVE, manifest.file_size, MANIFEST)
    if forced is Source.CHATDESK_ARCHIVE:
        raise FormatError("", f"{path.name} is not a chatdesk archive: its {MANIFEST} is missing.")
    found = [
        info
        for info in infos
        if PurePosixPath(info.filename).name == CONVERSATIONS
        and not info.filename.startswith("__MACOSX/")
    ]
    if not found:
        raise FormatError(
            "",
            f"{path.name} is a zip archive without a {CONVERSATIONS}, so not a ChatGPT or "
            f"Claude export. {WHAT_CHATDESK_READS}",
        )
    info = min(found, key=lambda item: (item.filename.count("/"), item.filename))
    _check_member(path, info)
    with archive.open(info) as source:
        source_found = forced or _sniff(source, f"{path.name}/{info.filename}")
    return ExportFile(path, source_found, info.file_size, info.filename)


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise FormatError(
            "",
            f"{path.name} is encrypted (password-protected); unpack it first and pick "
            f"its {PurePosixPath(info.filename).name}.",
        )
    if info.file_size > MAX_IMPORT_BYTES:
        raise FormatError("", _too_big(f"{path.name}/{info.filename}", info.file_size))


def _is_archive_manifest(source: IO[bytes]) -> bool:
    data = source.read(SNIFF_BYTES + 1)
    if len(data) > SNIFF_BYTES:
        return False
    try:
        manifest = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == ARCHIVE_FORMAT


class _Bounded:
    """At most ``SNIFF_BYTES`` of a file, then an end: telling the format stays cheap."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.left = SNIFF_BYTES

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self._source.read(size)
        self.left -= len(data)
        return data


@dataclass
class _Shape:
    """What the start of the JSON showed: its top level, the first conversation's keys."""

    keys: set[str] | None = None
    chat_keys: set[str] | None = None
    format: str | None = None

    def source(self, *, finished: bool) -> Source | None:
        """The source these keys show; weaker signs count only once nothing more comes."""
        keys = self.keys or set()
        if self.format == THREAD_FORMAT:
            return Source.CHATDESK
        if self.format == ARCHIVE_FORMAT:
            return Source.CHATDESK_ARCHIVE
        if "mapping" in keys:
            return Source.CHATGPT
        if "chat_messages" in keys:
            return Source.CLAUDE
        if "history" in (self.chat_keys or set()):
            return Source.OPEN_WEBUI
        if "conversationId" in keys and keys & {"messages", "messagesTree"}:
            return Source.LIBRECHAT
        if not finished:
            return None
        if "uuid" in keys and "name" in keys:
            return Source.CLAUDE
        if self.chat_keys is not None or "history" in keys:
            return Source.OPEN_WEBUI
        return None


def _sniff(source: IO[bytes], name: str) -> Source:
    """The source shown by the first conversation's keys (within ``SNIFF_BYTES``)."""
    bounded = _Bounded(source)
    reader = GuardedReader(bounded)
    shape = _Shape()
    try:
        head, first = top_level(reader, _SNIFF_READS)
        item = "item" if first == "[" else ""
        chat = f"{item}.chat" if item else "chat"
        fmt = f"{item}.format" if item else "format"
        events = FAST.parse(Replay(head, reader), buf_size=_SNIFF_READS, use_float=True)
        for prefix, event, value in events:
            if first == "[" and prefix == "" and event == "end_array" and shape.keys is None:
                raise FormatError("", f"{name} holds an empty list: no conversations to import.")
            if event == "start_map" and prefix == item and shape.keys is None:
                shape.keys = set()
            elif event == "map_key" and prefix == item and shape.keys is not None:
                shape.keys.add(value)
            elif event == "start_map" and prefix == chat and shape.chat_keys is None:
                shape.chat_keys = set()
            elif event == "map_key" and prefix == chat and shape.chat_keys is not None:
                shape.chat_keys.add(value)
            elif event == "string" and prefix == fmt:
                shape.format = value
            found = shape.source(finished=False)
            if found is not None:
                return found
            if event == "end_map" and prefix == item:
                break
    except TooDeep:
        pass  # decided on what was seen; the reader refuses the nesting with its place
    except (ijson.JSONError, UnicodeDecodeError) as error:
        # past the bound the parse ends early by design: only an error before it counts
        return _decided(shape, name, error if bounded.left else None)
    return _decided(shape, name, None)


def _decided(shape: _Shape, name: str, error: Exception | None) -> Source:
    found = shape.source(finished=True)
    if found is not None:
        return found  # its reader names the place of the problem, if any
    if error is not None and parse_reason(error) == NOT_UTF8:
        raise FormatError("", f"{name} is not UTF-8 text, so not an export chatdesk reads.")
    if error is not None:
        reason = parse_reason(error)
        raise FormatError("", f"{name} is not JSON ({reason}), so not an export chatdesk reads.")
    raise FormatError("", f"chatdesk cannot tell which app wrote {name}. {WHAT_CHATDESK_READS}")


def _too_big(name: str, size: int) -> str:
    return f"{name} is {size:,} bytes; chatdesk imports files up to {MAX_IMPORT_BYTES:,} bytes."


def _damaged(path: Path) -> str:
    return f"{path.name} is a damaged or incomplete zip archive; download the export again."
