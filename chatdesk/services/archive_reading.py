"""An archive read back: its manifest checked as any file from elsewhere.

``read_manifest(path)`` takes a ``.zip``, an archive's folder or its ``manifest.json``
and refuses, naming the place: a manifest that is not one (format, version, fields), a
member name that leaves the archive (absolute, ``..``, a backslash, a drive, outside
``chats/``, a folder link leading out), a member named twice or missing, a member that
would unpack past ``MAX_MEMBER_BYTES`` or an archive past ``MAX_ARCHIVE_BYTES`` (a zip
bomb; a zip member is never read past its declared size). Whether the manifest's
counts are true is known only once each chat is read: ``archive_import`` checks them.
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from chatdesk.services import attachment_transfer
from chatdesk.services.archive import (
    CHATS_DIR,
    FORMAT,
    MANIFEST,
    VERSION,
    ArchivedChat,
    ArchiveError,
)
from chatdesk.services.attachments import Carried

MAX_MANIFEST_BYTES = 64 << 20
MAX_MEMBER_BYTES = 1 << 30
"""A chat file larger than this is refused (what a one-chat import refuses too)."""
MAX_ARCHIVE_BYTES = 16 << 30
"""What every chat of an archive may unpack to, together."""


@dataclass
class Archive:
    """An archive whose manifest was checked: its chats and how to open each member."""

    place: str
    chats: list[ArchivedChat]
    _open: Callable[[str], IO[bytes]]
    _size: Callable[[str], int]
    _close: Callable[[], None]
    attachments: list[Carried] = field(default_factory=list)
    """The attached files it carries (``attachments/<sha256>``), sizes checked."""

    def open(self, name: str) -> IO[bytes]:
        return self._open(name)

    def size(self, name: str) -> int:
        return self._size(name)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def read_manifest(path: Path | str) -> Archive:
    """Open the archive at ``path`` (a .zip, its folder, or its manifest.json) and check
    its manifest as any file from elsewhere: refused with ``ArchiveError`` naming the place."""
    path = Path(path)
    if path.is_dir():
        return _folder_archive(path)
    if path.name == MANIFEST and path.is_file():
        return _folder_archive(path.parent)
    if not path.exists():
        raise ArchiveError(f"{path} does not exist.")
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as error:
        raise ArchiveError(f"Cannot read {path.name}: {error.strerror or error}.") from None
    if not is_zip:
        raise ArchiveError(f"{path.name} is not a chatdesk archive (a .zip or a folder).")
    return _zip_archive(path)


def _zip_archive(path: Path) -> Archive:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise ArchiveError(f"{path.name} cannot be read as a zip file ({error}).") from None
    try:
        infos = {info.filename: info for info in archive.infolist()}
        manifest = infos.get(MANIFEST)
        if manifest is None:
            raise ArchiveError(f"{path.name} has no {MANIFEST}: not a chatdesk archive.")
        if manifest.file_size > MAX_MANIFEST_BYTES:
            raise ArchiveError(
                f"{path.name}: {MANIFEST} is too big ({manifest.file_size:,} bytes)."
            )
        with archive.open(manifest) as source:
            chats, files = _checked_manifest(source.read(MAX_MANIFEST_BYTES + 1), path.name)
        unpacked = 0
        for carried in files:
            member = attachment_transfer.member_name(carried.sha256)
            info = infos.get(member)
            if info is None or info.is_dir():
                raise ArchiveError(f"{path.name}: {MANIFEST} names {member}, which is not in it.")
            if info.file_size != carried.size:
                raise ArchiveError(
                    f"{path.name}: {member} holds {info.file_size:,} bytes; {MANIFEST} says "
                    f"{carried.size:,}."
                )
            unpacked += info.file_size
        for n, chat in enumerate(chats):
            for member in (chat.json, chat.markdown):
                info = infos.get(member)
                if info is None or info.is_dir():
                    raise ArchiveError(
                        f"{path.name}: {MANIFEST} chats[{n}] names {member}, which is not in it."
                    )
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ArchiveError(
                        f"{path.name}: {member} would unpack to {info.file_size:,} bytes; "
                        f"chatdesk reads chats of up to {MAX_MEMBER_BYTES:,}."
                    )
                unpacked += info.file_size
        if unpacked > MAX_ARCHIVE_BYTES:
            raise ArchiveError(
                f"{path.name} would unpack to {unpacked:,} bytes; chatdesk reads archives of "
                f"up to {MAX_ARCHIVE_BYTES:,}."
            )
    except BaseException:
        archive.close()
        raise
    except_bad = (zipfile.BadZipFile, OSError)

    def open_member(name: str) -> IO[bytes]:
        try:
            return archive.open(infos[name])
        except except_bad as error:
            raise ArchiveError(f"{path.name}: {name} cannot be read ({error}).") from None

    return Archive(
        path.name, chats, open_member, lambda name: infos[name].file_size, archive.close, files
    )


def _folder_archive(folder: Path) -> Archive:
    manifest = folder / MANIFEST
    place = folder.name or str(folder)
    try:
        size = manifest.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ArchiveError(f"{place}: {MANIFEST} is too big ({size:,} bytes).")
        data = manifest.read_bytes()
    except FileNotFoundError:
        raise ArchiveError(f"{place} has no {MANIFEST}: not a chatdesk archive.") from None
    except OSError as error:
        raise ArchiveError(f"Cannot read {manifest}: {error.strerror or error}.") from None
    chats, files = _checked_manifest(data, place)
    root = folder.resolve()
    for carried in files:
        member = attachment_transfer.member_name(carried.sha256)
        file = (folder / member).resolve()
        if not file.is_relative_to(root):
            raise ArchiveError(f"{place}: {member} leaves the folder.")
        if not file.is_file():
            raise ArchiveError(f"{place}: {MANIFEST} names {member}, which is not in it.")
        size = file.stat().st_size
        if size != carried.size:
            raise ArchiveError(
                f"{place}: {member} holds {size:,} bytes; {MANIFEST} says {carried.size:,}."
            )
    for n, chat in enumerate(chats):
        for member in (chat.json, chat.markdown):
            file = (folder / member).resolve()
            if not file.is_relative_to(root):  # a link that leads out of the folder
                raise ArchiveError(f"{place}: {MANIFEST} chats[{n}].{member} leaves the folder.")
            if not file.is_file():
                raise ArchiveError(
                    f"{place}: {MANIFEST} chats[{n}] names {member}, which is not in it."
                )

    def open_member(name: str) -> IO[bytes]:
        try:
            return (folder / name).open("rb")
        except OSError as error:
            raise ArchiveError(f"Cannot read {name}: {error.strerror or error}.") from None

    return Archive(
        place, chats, open_member, lambda name: (folder / name).stat().st_size, lambda: None, files
    )


def _checked_manifest(data: bytes, place: str) -> tuple[list[ArchivedChat], list[Carried]]:
    where = f"{place}: {MANIFEST}"
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ArchiveError(f"{where} is not JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{where} is not a chatdesk archive manifest.")
    version = manifest.get("version")
    if type(version) is not int:
        raise ArchiveError(f"{where} has no valid version number.")
    if version != VERSION:
        newer = " by a newer chatdesk" if version > VERSION else ""
        raise ArchiveError(
            f"{where}: written{newer} in archive version {version}; "
            f"this chatdesk reads version {VERSION}."
        )
    chats = manifest.get("chats")
    if not isinstance(chats, list):
        raise ArchiveError(f"{where}: chats: expected a list.")
    checked: list[ArchivedChat] = []
    seen: set[str] = set()
    for n, chat in enumerate(chats):
        at = f"{where}: chats[{n}]"
        if not isinstance(chat, dict):
            raise ArchiveError(f"{at}: expected an object.")
        title = chat.get("title")
        if not isinstance(title, str):
            raise ArchiveError(f"{at}.title: expected text.")
        members = [_member(chat.get(key), f"{at}.{key}", suffix) for key, suffix in _MEMBERS]
        for member in members:
            if member in seen:
                raise ArchiveError(f"{at}: {member} is named twice.")
            seen.add(member)
        counts = [chat.get(key) for key in ("messages", "executions")]
        for key, value in zip(("messages", "executions"), counts, strict=True):
            if type(value) is not int or value < 0:
                raise ArchiveError(f"{at}.{key}: expected a whole number of at least 0.")
        messages, executions = counts
        assert isinstance(messages, int) and isinstance(executions, int)  # checked above
        checked.append(ArchivedChat(title, members[0], members[1], messages, executions))
    return checked, _checked_files(manifest.get("attachments"), where)


def _checked_files(files: object, where: str) -> list[Carried]:
    """The manifest's ``attachments`` (absent in an archive from before them)."""
    if files is None:
        return []
    if not isinstance(files, list):
        raise ArchiveError(f"{where}: attachments: expected a list.")
    checked: dict[str, Carried] = {}
    total = 0
    for n, item in enumerate(files):
        try:
            carried = attachment_transfer.checked_entry(item, f"{where}: attachments[{n}]")
        except attachment_transfer.AttachmentTransferError as error:
            raise ArchiveError(str(error)) from None
        if carried.sha256 in checked:
            raise ArchiveError(f"{where}: attachments[{n}]: {carried.sha256} is named twice.")
        checked[carried.sha256] = carried
        total += carried.size
    if total > MAX_ARCHIVE_BYTES:
        raise ArchiveError(
            f"{where}: its attached files come to {total:,} bytes; chatdesk reads archives of "
            f"up to {MAX_ARCHIVE_BYTES:,}."
        )
    return list(checked.values())


_MEMBERS = (("json", ".json"), ("markdown", ".md"))


def _member(name: object, where: str, suffix: str) -> str:
    """A member name that stays inside the archive: relative, plain, under ``chats/``."""
    if not isinstance(name, str) or not name:
        raise ArchiveError(f"{where}: expected a file name.")
    parts = name.split("/")
    if (
        "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name)
        or any(part in ("", ".", "..") for part in parts)
        or posixpath.normpath(name) != name
        or parts[0] != CHATS_DIR
        or len(parts) != 2
    ):
        raise ArchiveError(f"{where}: {name[:80]!r} leaves the archive's {CHATS_DIR} folder.")
    if not name.endswith(suffix):
        raise ArchiveError(f"{where}: {name[:80]!r} is not a {suffix} file.")
    return name
