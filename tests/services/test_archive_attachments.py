"""Attached files in archives: written once each, checked as hostile on the way back
(hash, size, type, names), reused when already stored, and all or nothing: a refused or
cancelled import leaves no attachment row and no new file behind."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.archive import ArchiveError
from chatdesk.services.archive_reading import read_manifest
from chatdesk.services.transfer import ImportCancelled
from chatdesk.store.migrate import open_store
from chatdesk.store.models import Attachment, AttachmentHold, MessageAttachment
from tests.support import attached


@pytest.fixture
def restored(tmp_path: Path) -> Iterator[Services]:
    """An empty data dir's services, with attachments of its own."""
    store = open_store(f"sqlite:///{tmp_path / 'restored' / 'chatdesk.db'}")
    yield Services(store, attachments_dir=tmp_path / "restored" / "attachments")
    store.close()


def _chats(services: Services, me: int, files: Path) -> tuple[str, str]:
    """Two chats: a PNG and a PDF on one message, the PNG again on the other chat's."""
    files.mkdir()
    photo = services.attachments.add(me, attached.png(files / "photo.png", (30, 20)))
    plan = services.attachments.add(me, attached.pdf(files / "plan.pdf"))
    one = services.threads.create(me, "One")
    services.messages.send(me, one.id, "look", attachments=[photo, plan])
    two = services.threads.create(me, "Two")
    services.messages.send(me, two.id, "again", attachments=[photo])
    return photo.sha256, plan.sha256


def _rows(services: Services) -> tuple[int, int, int]:
    with services.store.session_factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Attachment, MessageAttachment, AttachmentHold)
        )


def _left_on_disk(services: Services) -> list[str]:
    root = services.attachments.files.root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _rewrite(source: Path, target: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """A copy of the zip ``source`` whose members ``change`` edited."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _manifest(members: dict[str, bytes]) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(members["manifest.json"])
    return manifest


def _set_manifest(members: dict[str, bytes], manifest: dict[str, Any]) -> None:
    members["manifest.json"] = json.dumps(manifest).encode()


@pytest.fixture
def exported(services: Services, user_id: int, tmp_path: Path) -> tuple[Path, str, str]:
    if services.store.engine.dialect.name != "sqlite":
        pytest.skip("one database kind is enough for the archive's files")
    photo, plan = _chats(services, user_id, tmp_path / "files")
    target = tmp_path / "all.zip"
    services.transfer.export_archive(user_id, target, as_zip=True)
    return target, photo, plan


def test_each_file_is_written_once_and_listed(
    services: Services, user_id: int, exported: tuple[Path, str, str], tmp_path: Path
) -> None:
    target, photo, plan = exported
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        stored = {n: archive.read(n) for n in names if n.startswith("attachments/")}
        chat = json.loads(archive.read(manifest["chats"][1]["json"]))  # "One": the older
    assert sorted(stored) == sorted([f"attachments/{photo}", f"attachments/{plan}"])
    for name, data in stored.items():
        assert hashlib.sha256(data).hexdigest() == name.removeprefix("attachments/")
    listed = {entry["sha256"]: entry for entry in manifest["attachments"]}
    assert listed[photo]["kind"] == "image" and listed[photo]["mime_type"] == "image/png"
    assert listed[plan]["kind"] == "pdf" and listed[plan]["size"] == len(
        stored[f"attachments/{plan}"]
    )
    assert manifest["version"] == 1
    (message,) = chat["messages"]
    assert message["attachments"] == [
        {"sha256": photo, "file_name": "photo.png", "position": 0},
        {"sha256": plan, "file_name": "plan.pdf", "position": 1},
    ]
    folder = tmp_path / "folder"
    services.transfer.export_archive(user_id, folder, as_zip=False)
    assert (folder / "attachments" / photo).read_bytes() == stored[f"attachments/{photo}"]


def test_an_archive_from_before_attachments_still_imports(
    exported: tuple[Path, str, str], restored: Services, tmp_path: Path
) -> None:
    target, _photo, _plan = exported

    def strip(members: dict[str, bytes]) -> None:
        manifest = _manifest(members)
        del manifest["attachments"]
        _set_manifest(members, manifest)
        for chat in manifest["chats"]:
            document = json.loads(members[chat["json"]])
            for message in document["messages"]:
                message.pop("attachments", None)
            members[chat["json"]] = json.dumps(document).encode()
        for name in [n for n in members if n.startswith("attachments/")]:
            del members[name]

    old = _rewrite(target, tmp_path / "old.zip", strip)
    result = restored.transfer.import_archive(restored.users.ensure(), old)
    assert len(result.threads) == 2
    assert _rows(restored) == (0, 0, 0)


def _bad_bytes(digest: str) -> Callable[[dict[str, bytes]], None]:
    def change(members: dict[str, bytes]) -> None:
        name = f"attachments/{digest}"
        data = bytearray(members[name])
        data[-1] ^= 0xFF  # same size, another hash
        members[name] = bytes(data)

    return change


def _missing(digest: str) -> Callable[[dict[str, bytes]], None]:
    def change(members: dict[str, bytes]) -> None:
        del members[f"attachments/{digest}"]

    return change


def _manifest_entry(digest: str, **values: object) -> Callable[[dict[str, bytes]], None]:
    def change(members: dict[str, bytes]) -> None:
        manifest = _manifest(members)
        for entry in manifest["attachments"]:
            if entry["sha256"] == digest:
                entry.update(values)
        _set_manifest(members, manifest)

    return change


def _link(digest: str, value: str) -> Callable[[dict[str, bytes]], None]:
    """Every chat's link to ``digest`` names ``value`` instead."""

    def change(members: dict[str, bytes]) -> None:
        for chat in _manifest(members)["chats"]:
            text = members[chat["json"]].decode()
            members[chat["json"]] = text.replace(
                f'"sha256": "{digest}"', f'"sha256": "{value}"'
            ).encode()

    return change


def _damaged_png(photo: str) -> Callable[[dict[str, bytes]], None]:
    """A PNG whose bytes, hash and size agree with the manifest, and which cannot be read."""

    def change(members: dict[str, bytes]) -> None:
        data = bytearray(members.pop(f"attachments/{photo}"))
        data[40] ^= 0xFF  # inside the image data: its checksum fails
        digest = hashlib.sha256(data).hexdigest()
        members[f"attachments/{digest}"] = bytes(data)
        manifest = _manifest(members)
        for entry in manifest["attachments"]:
            if entry["sha256"] == photo:
                entry["sha256"] = digest
        _set_manifest(members, manifest)
        _link(photo, digest)(members)

    return change


CASES: dict[str, tuple[Callable[[str, str], Callable[[dict[str, bytes]], None]], str]] = {
    "bytes-not-its-hash": (lambda photo, plan: _bad_bytes(max(photo, plan)), "another SHA-256"),
    "member-missing": (lambda photo, plan: _missing(plan), "which is not in it"),
    "huge": (lambda photo, plan: _manifest_entry(plan, size=10**12), "the most a file attached"),
    "size-lies": (lambda photo, plan: _manifest_entry(plan, size=7), "holds"),
    "dotdot-in-manifest": (
        lambda photo, plan: _manifest_entry(plan, sha256="../../etc/passwd"),
        "is not a SHA-256",
    ),
    "dotdot-in-a-link": (lambda photo, plan: _link(plan, "../" + plan[3:]), "is not a SHA-256"),
    "link-to-nothing": (lambda photo, plan: _link(plan, "0" * 64), "does not list"),
    "kind-lies": (lambda photo, plan: _manifest_entry(plan, kind="image"), "its bytes are 'pdf'"),
    "damaged-image": (lambda photo, plan: _damaged_png(photo), "cannot be read"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_attachment_is_refused_and_leaves_nothing(
    exported: tuple[Path, str, str], restored: Services, tmp_path: Path, case: str
) -> None:
    target, photo, plan = exported
    make, told = CASES[case]
    hostile = _rewrite(target, tmp_path / "hostile.zip", make(photo, plan))
    me = restored.users.ensure()
    with pytest.raises(ArchiveError, match=told.replace("(", r"\(")):
        restored.transfer.import_archive(me, hostile)
    assert restored.threads.list(me) == []
    assert _rows(restored) == (0, 0, 0)
    assert _left_on_disk(restored) == []


def test_a_failure_after_some_files_were_copied_frees_them(
    exported: tuple[Path, str, str], restored: Services, tmp_path: Path
) -> None:
    """The first file (by digest) is copied, stored and held; the second is refused:
    the first goes too, row and file."""
    target, photo, plan = exported
    hostile = _rewrite(target, tmp_path / "hostile.zip", _bad_bytes(max(photo, plan)))
    copied: list[str] = []
    restore = restored.attachments.restore

    def spy(*args: Any, **kwargs: Any) -> int:
        found = restore(*args, **kwargs)
        copied.append(_left_on_disk(restored)[0])
        return found

    restored.attachments.restore = spy  # type: ignore[method-assign]
    with pytest.raises(ArchiveError, match="another SHA-256"):
        restored.transfer.import_archive(restored.users.ensure(), hostile)
    assert copied == [f"{min(photo, plan)[:2]}/{min(photo, plan)}"]
    assert _rows(restored) == (0, 0, 0)
    assert _left_on_disk(restored) == []


def test_a_folder_archive_with_a_changed_file_is_refused(
    services: Services, user_id: int, restored: Services, tmp_path: Path
) -> None:
    if services.store.engine.dialect.name != "sqlite":
        pytest.skip("one database kind is enough for the archive's files")
    photo, _plan = _chats(services, user_id, tmp_path / "files")
    folder = tmp_path / "all"
    services.transfer.export_archive(user_id, folder, as_zip=False)
    member = folder / "attachments" / photo
    member.write_bytes(member.read_bytes() + b"x")
    with pytest.raises(ArchiveError, match="holds"):
        restored.transfer.import_archive(restored.users.ensure(), folder)
    member.unlink()
    member.symlink_to(tmp_path / "files" / "photo.png")  # a link leading out of the folder
    with pytest.raises(ArchiveError, match="leaves the folder"):
        read_manifest(folder)
    assert _rows(restored) == (0, 0, 0)


def test_a_cancelled_import_leaves_no_attachment_file(
    exported: tuple[Path, str, str], restored: Services
) -> None:
    target, _photo, _plan = exported
    calls = 0

    def stop_late() -> bool:
        """Stop once both files are stored: while the chats are written."""
        nonlocal calls
        calls += 1
        return len(_left_on_disk(restored)) == 2

    with pytest.raises(ImportCancelled):
        restored.transfer.import_archive(restored.users.ensure(), target, should_stop=stop_late)
    assert calls > 0
    assert _rows(restored) == (0, 0, 0)
    assert _left_on_disk(restored) == []


def test_files_already_stored_are_not_copied_again(
    exported: tuple[Path, str, str], restored: Services, tmp_path: Path
) -> None:
    target, photo, plan = exported
    me = restored.users.ensure()
    mine = restored.attachments.add(me, attached.png(tmp_path / "mine.png", (30, 20)))
    assert mine.sha256 == photo  # the same picture, attached here before
    chat = restored.threads.create(me, "Mine")
    restored.messages.send(me, chat.id, "mine", attachments=[mine])
    stored = restored.attachments.files.path(photo)
    before = os.stat(stored)

    restored.transfer.import_archive(me, target)
    assert os.stat(stored).st_ino == before.st_ino  # not replaced by a copy
    assert _rows(restored) == (2, 4, 0)
    with restored.store.session_factory() as session:
        ids = session.scalars(select(Attachment.id).where(Attachment.sha256 == photo)).all()
        linked = session.scalars(
            select(MessageAttachment.attachment_id).where(
                MessageAttachment.attachment_id == mine.id
            )
        ).all()
    assert ids == [mine.id] and len(linked) == 3  # the old message and the two imported ones
    assert sorted(_left_on_disk(restored)) == sorted(f"{d[:2]}/{d}" for d in (photo, plan))

    # a failed import that reuses it frees only what it brought: the old file stays
    other = restored.attachments.files.path(plan)
    for thread in restored.threads.list(me):
        if thread.title != "Mine":
            restored.threads.delete(me, thread.id)
    assert not other.exists() and stored.exists()
    hostile = _rewrite(target, tmp_path / "hostile.zip", _manifest_entry(plan, kind="text"))
    with pytest.raises(ArchiveError):
        restored.transfer.import_archive(me, hostile, again=True)
    assert stored.exists() and not other.exists()
    assert _rows(restored) == (1, 1, 0)
