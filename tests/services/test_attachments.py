"""Attachments: copied in once and safely, told from their bytes, sent with a message,
freed when the last message using them goes, and nothing half stored after a refusal.

Every file here is real (Pillow PNGs, fpdf2 PDFs, a pypdf-encrypted PDF, a python-docx
document); every test runs on SQLite and PostgreSQL (the ``services`` fixture).
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from docx import Document
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import event, func, select, update

from chatdesk.services import Services, attachment_files, attachment_links, attachments
from chatdesk.services.conversation import Outgoing
from chatdesk.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from chatdesk.services.records import AttachmentRecord
from chatdesk.store.base import utcnow
from chatdesk.store.models import Attachment, AttachmentHold, MessageAttachment
from chatdesk.vocabulary import AttachmentKind
from tests.support import attached

_png, _pdf = attached.png, attached.pdf  # real files: one maker for every test


def _encrypted_pdf(path: Path, source: Path) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password="secret", algorithm="AES-256")
    with path.open("wb") as out:
        writer.write(out)
    return path


def _docx(path: Path) -> Path:
    document = Document()
    document.add_paragraph("Hello from Word")
    document.save(str(path))
    return path


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` × ``height`` pixels and holds almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def _rows(services: Services, model: type[Attachment | AttachmentHold | MessageAttachment]) -> int:
    with services.store.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _files(services: Services) -> list[Path]:
    """Every file under the attachments folder (stored files and temporary copies)."""
    root = services.attachments_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _nothing_stored(services: Services) -> None:
    assert _rows(services, Attachment) == 0
    assert _rows(services, AttachmentHold) == 0
    assert _files(services) == []


def _send(services: Services, user_id: int, *files: AttachmentRecord, text: str = "look") -> int:
    """A message carrying ``files`` in a chat of its own (asking for no run, so it can be
    deleted at once)."""
    thread = services.threads.create(user_id)
    sent = services.messages.send(
        user_id, thread.id, text, triggers_execution=False, attachments=files
    )
    return sent.message.id


# --- adding: copied once, private, deduplicated ---------------------------------------


def test_a_file_is_copied_in_private_and_named_by_its_content(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    original = _png(tmp_path / "photo.png", (40, 30))
    added = services.attachments.add(user_id, original)
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    assert (added.kind, added.mime_type, added.width, added.height) == (
        AttachmentKind.IMAGE,
        "image/png",
        40,
        30,
    )
    assert (added.file_name, added.size_bytes, added.sha256) == (
        "photo.png",
        original.stat().st_size,
        digest,
    )
    stored = services.attachments.path_of(user_id, added.id)
    assert stored == services.attachments_dir / digest[:2] / digest
    assert stored.read_bytes() == original.read_bytes()
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700
    assert services.attachments_dir.stat().st_mode & 0o777 == 0o700
    original.unlink()  # nothing reads the original after attaching
    message_id = _send(services, user_id, added)
    assert services.attachments.for_message(user_id, message_id)[0].sha256 == digest


def test_the_same_file_twice_is_stored_once(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    first = services.attachments.add(user_id, _pdf(tmp_path / "a.pdf"))
    copy = tmp_path / "copy of a.pdf"
    copy.write_bytes((tmp_path / "a.pdf").read_bytes())
    second = services.attachments.add(user_id, copy)
    assert second.id == first.id and second.file_name == "copy of a.pdf"
    assert _rows(services, Attachment) == 1 and len(_files(services)) == 1


def test_two_adds_of_the_same_file_at_once_store_it_once(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    original = _pdf(tmp_path / "same.pdf")
    found: list[int] = []
    errors: list[BaseException] = []

    def add() -> None:
        try:
            found.append(services.attachments.add(user_id, original).id)
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=add) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [] and len(set(found)) == 1
    assert _rows(services, Attachment) == 1 and len(_files(services)) == 1


def test_pasted_bytes_are_stored_like_a_file(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    data = _png(tmp_path / "x.png").read_bytes()
    pasted = services.attachments.add_bytes(user_id, data, "Pasted image.png")
    assert (pasted.kind, pasted.file_name) == (AttachmentKind.IMAGE, "Pasted image.png")
    assert services.attachments.path_of(user_id, pasted.id).read_bytes() == data


# --- the type comes from the bytes ----------------------------------------------------


def test_each_kind_is_told_from_its_bytes_not_its_name(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    jpeg, gif, webp = tmp_path / "j", tmp_path / "g", tmp_path / "w"
    Image.new("RGB", (5, 6)).save(jpeg, "JPEG")
    Image.new("P", (7, 8)).save(gif, "GIF")
    Image.new("RGB", (9, 10)).save(webp, "WEBP")
    notes = tmp_path / "notes.md"
    notes.write_text("# Title\n\nSome *Markdown*, ünïcödé.\n", encoding="utf-8")
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    script = tmp_path / "tool.py"
    script.write_text("print('hi')\n", encoding="utf-8")
    liar = tmp_path / "report.txt"
    liar.write_bytes(_png(tmp_path / "real.png", (2, 2), "blue").read_bytes())
    cases = {
        jpeg: (AttachmentKind.IMAGE, "image/jpeg"),
        gif: (AttachmentKind.IMAGE, "image/gif"),
        webp: (AttachmentKind.IMAGE, "image/webp"),
        _pdf(tmp_path / "doc.bin"): (AttachmentKind.PDF, "application/pdf"),
        _docx(tmp_path / "letter.docx"): (AttachmentKind.DOCX, attachments_docx_mime()),
        notes: (AttachmentKind.TEXT, "text/markdown"),
        table: (AttachmentKind.TEXT, "text/csv"),
        script: (AttachmentKind.TEXT, "text/x-python"),
        liar: (AttachmentKind.IMAGE, "image/png"),
    }
    for path, expected in cases.items():
        added = services.attachments.add(user_id, path)
        assert (added.kind, added.mime_type) == expected, path.name


def attachments_docx_mime() -> str:
    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _refusals(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """(case, path, words the refusal must contain)."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    yield "empty", empty, "is empty"
    folder = tmp_path / "folder"
    folder.mkdir()
    yield "folder", folder, "is a folder"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    yield "fifo", fifo, "not a regular file"
    yield "device", Path("/dev/zero"), "not a regular file"
    link = tmp_path / "photo.png"
    link.symlink_to(_png(tmp_path / "target.png"))
    yield "symlink", link, "symbolic link"
    yield "missing", tmp_path / "gone.pdf", "no longer exists"
    binary = tmp_path / "program"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    yield "binary", binary, "not a type chatdesk can attach"
    latin1 = tmp_path / "old.txt"
    latin1.write_bytes("café".encode("latin-1"))
    yield "not utf-8", latin1, "not a type chatdesk can attach"
    archive = tmp_path / "archive.docx"
    import zipfile

    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("hello.txt", "not a document")
    yield "zip", archive, "zip archive, not a Word document"
    broken_png = tmp_path / "broken.png"
    broken_png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    yield "corrupt png", broken_png, "cannot be read"
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(_png(tmp_path / "whole.png", (64, 64)).read_bytes()[:60])
    yield "truncated png", truncated, "cannot be read"
    yield "bomb", _png_header(tmp_path / "bomb.png", 100_000, 100_000), "too large an image"
    yield "just past the limit", _png_header(tmp_path / "big.png", 7100, 7100), "megapixels"
    broken_pdf = tmp_path / "broken.pdf"
    broken_pdf.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    yield "corrupt pdf", broken_pdf, "cannot be opened as a PDF"
    plain = _pdf(tmp_path / "plain.pdf")
    yield "encrypted pdf", _encrypted_pdf(tmp_path / "locked.pdf", plain), "password"


def test_what_cannot_be_attached_is_refused_with_a_sentence_and_nothing_stored(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    for case, path, words in _refusals(tmp_path):
        with pytest.raises(ValidationError) as refused:
            services.attachments.add(user_id, path)
        assert words in str(refused.value), (case, str(refused.value))
        _nothing_stored(services)


def test_a_file_without_read_permission_is_refused(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _pdf(tmp_path / "secret.pdf")
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads any file (CI runs as root): the kernel's answer
        real_open = os.open  # to anybody else is played for this one path

        def refusing(path: object, flags: int, *args: object, **kwargs: object) -> int:
            if Path(str(path)) == secret:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(ValidationError, match="permissions do not let you open it"):
        services.attachments.add(user_id, secret)
    monkeypatch.undo()
    secret.chmod(0o600)
    _nothing_stored(services)


def test_size_limits_are_enforced_per_kind(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = _png(tmp_path / "noise.png", (64, 64))
    monkeypatch.setattr("chatdesk.services.attachment_types.MAX_IMAGE_BYTES", 100)
    with pytest.raises(ValidationError, match="larger than 100 bytes, the most an image can be"):
        services.attachments.add(user_id, image)
    _nothing_stored(services)
    monkeypatch.setattr(attachments, "MAX_FILE_BYTES", 1_000)
    text = tmp_path / "long.txt"
    text.write_text("x" * 1_001, encoding="utf-8")
    with pytest.raises(ValidationError, match="larger than"):
        services.attachments.add(user_id, text)
    with pytest.raises(ValidationError, match="larger than"):
        services.attachments.add_bytes(user_id, b"y" * 1_001, "pasted.txt")
    _nothing_stored(services)


def test_a_file_that_vanishes_or_grows_while_copied_is_refused_and_leaves_no_copy(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _pdf(tmp_path / "moving.pdf")
    real_read = attachment_files.read_chunk

    def vanishing(fd: int, size: int) -> bytes:
        raise OSError(5, "Input/output error")  # a network drive gone mid-read

    monkeypatch.setattr(attachment_files, "read_chunk", vanishing)
    with pytest.raises(ValidationError, match="could not be read to the end"):
        services.attachments.add(user_id, original)
    _nothing_stored(services)

    grown: list[bool] = []

    def growing(fd: int, size: int) -> bytes:
        chunk = real_read(fd, size)
        if not grown:  # saved again by its program while chatdesk reads it
            grown.append(True)
            with original.open("ab") as more:
                more.write(b"% appended while copied\n")
        return chunk

    monkeypatch.setattr(attachment_files, "read_chunk", growing)
    with pytest.raises(ValidationError, match="changed while it was being attached"):
        services.attachments.add(user_id, original)
    _nothing_stored(services)

    def deleted(fd: int, size: int) -> bytes:
        chunk = real_read(fd, size)
        if original.exists():
            original.unlink()
        return chunk

    monkeypatch.setattr(attachment_files, "read_chunk", deleted)
    with pytest.raises(ValidationError, match="moved or deleted"):
        services.attachments.add(user_id, original)
    _nothing_stored(services)


def test_a_failed_write_of_the_row_leaves_no_file(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(attachment_links, "hold", broken)
    with pytest.raises(RuntimeError):
        services.attachments.add(user_id, _png(tmp_path / "p.png"))
    _nothing_stored(services)


# --- sending and reading --------------------------------------------------------------


def test_a_message_carries_its_files_in_order_and_pages_read_them_in_one_query(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    image = services.attachments.add(user_id, _png(tmp_path / "chart.png"))
    paper = services.attachments.add(user_id, _pdf(tmp_path / "paper.pdf"))
    sent = services.conversation.send(user_id, Outgoing("", attachments=[paper, image]))
    assert [f.file_name for f in sent.message.attachments] == ["paper.pdf", "chart.png"]
    assert sent.message.content == ""
    assert services.threads.get(user_id, sent.message.thread_id).title == "paper.pdf"
    thread_id = sent.message.thread_id
    for n in range(5):
        file = services.attachments.add_bytes(user_id, f"note {n}".encode(), f"n{n}.txt")
        services.messages.send(user_id, thread_id, f"note {n}", attachments=[file])
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(services.store.engine, "before_cursor_execute", count)
    try:
        page = services.messages.list(user_id, thread_id)
    finally:
        event.remove(services.store.engine, "before_cursor_execute", count)
    assert [len(m.attachments) for m in page.messages] == [2, 1, 1, 1, 1, 1]
    assert page.messages[3].attachments[0].file_name == "n2.txt"
    assert sum("message_attachments" in s for s in statements) == 1
    got = services.messages.get(user_id, sent.message.id)
    assert [f.kind for f in got.attachments] == [AttachmentKind.PDF, AttachmentKind.IMAGE]


def test_more_than_ten_files_are_refused_before_anything_is_written(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    files = [
        services.attachments.add_bytes(user_id, f"file {n}".encode(), f"{n}.txt") for n in range(11)
    ]
    outgoing = Outgoing("too many", attachments=files)
    with pytest.raises(ValidationError, match="at most 10 files"):
        services.conversation.send(user_id, outgoing)
    assert outgoing.thread_id is None and services.threads.count(user_id) == 0


def test_another_user_can_neither_read_nor_send_my_attachment(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    mine = services.attachments.add(user_id, _pdf(tmp_path / "private.pdf"))
    message_id = _send(services, user_id, mine)
    other = services.users.ensure("mallory")
    with pytest.raises(PermissionDeniedError):
        services.attachments.path_of(other, mine.id)
    with pytest.raises(PermissionDeniedError):
        services.attachments.for_message(other, message_id)
    thread = services.threads.create(other, "steal")
    with pytest.raises(PermissionDeniedError):
        services.messages.send(other, thread.id, "mine now", attachments=[mine])
    with pytest.raises(NotFoundError):
        services.attachments.path_of(user_id, mine.id + 1000)
    # who has the same bytes may attach them: the content is the proof
    again = services.attachments.add(other, tmp_path / "private.pdf")
    assert again.id == mine.id
    services.messages.send(other, thread.id, "my own copy", attachments=[again])


def test_an_edit_keeps_the_files_of_the_message_edited(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    image = services.attachments.add(user_id, _png(tmp_path / "i.png"))
    first = _send(services, user_id, image, text="what is this?")
    edited = services.messages.send_version(user_id, first, "what is in this picture?")
    assert [f.id for f in edited.message.attachments] == [image.id]


# --- freeing --------------------------------------------------------------------------


def test_deleting_the_last_message_using_a_file_frees_it(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    shared = services.attachments.add(user_id, _pdf(tmp_path / "shared.pdf"))
    first = _send(services, user_id, shared)
    again = services.attachments.add(user_id, tmp_path / "shared.pdf")
    second = _send(services, user_id, again)
    stored = services.attachments.path_of(user_id, shared.id)
    assert services.messages.delete(user_id, first) == 1
    assert stored.exists() and _rows(services, Attachment) == 1
    services.messages.delete(user_id, second)
    assert not stored.exists()
    _nothing_stored(services)


def test_deleting_a_thread_frees_its_files_but_not_those_a_branch_copy_uses(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    kept = services.attachments.add(user_id, _png(tmp_path / "kept.png"))
    gone = services.attachments.add(user_id, _pdf(tmp_path / "gone.pdf"))
    sent = services.conversation.send(user_id, Outgoing("first", attachments=[kept]))
    thread_id = sent.message.thread_id
    copy = services.branches.branch(user_id, sent.message.id)
    services.messages.send(user_id, thread_id, "second", attachments=[gone])
    gone_path = services.attachments.path_of(user_id, gone.id)
    services.threads.delete(user_id, thread_id)
    assert not gone_path.exists()
    kept_path = services.attachments.path_of(user_id, kept.id)  # the branch links it
    copied = services.messages.list(user_id, copy.id).messages
    assert [f.id for f in copied[0].attachments] == [kept.id]
    services.threads.delete(user_id, copy.id)
    assert not kept_path.exists()
    _nothing_stored(services)


def test_undo_of_a_branch_delete_gives_the_files_back_and_forgetting_frees_them(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    image = services.attachments.add(user_id, _png(tmp_path / "u.png"))
    message_id = _send(services, user_id, image)
    stored = services.attachments.path_of(user_id, image.id)
    deleted = services.messages.delete_branch(user_id, message_id)
    assert stored.exists()  # held while Undo is offered
    assert services.attachments.sweep().rows == 0 and stored.exists()
    services.messages.restore(deleted)
    assert [f.id for f in services.attachments.for_message(user_id, message_id)] == [image.id]
    assert _rows(services, AttachmentHold) == 0
    deleted = services.messages.delete_branch(user_id, message_id)
    services.messages.forget(deleted)  # the Undo never came
    assert not stored.exists()
    _nothing_stored(services)


def test_undo_after_the_hold_expired_is_refused_whole(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    image = services.attachments.add(user_id, _png(tmp_path / "late.png"))
    message_id = _send(services, user_id, image)
    deleted = services.messages.delete_branch(user_id, message_id)
    assert services.attachments.sweep(hold_s=0).rows == 1
    with pytest.raises(ValidationError, match="gone"):
        services.messages.restore(deleted)
    with pytest.raises(NotFoundError):
        services.messages.get(user_id, message_id)
    _nothing_stored(services)


def test_the_sweep_keeps_fresh_holds_and_removes_old_ones_orphans_and_stale_copies(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    fresh = services.attachments.add(user_id, _png(tmp_path / "fresh.png"))
    old = services.attachments.add(user_id, _pdf(tmp_path / "old.pdf"))
    sent = services.attachments.add(user_id, _docx(tmp_path / "sent.docx"))
    _send(services, user_id, sent)
    with services.store.session_factory.begin() as session:
        session.execute(
            update(AttachmentHold)
            .where(AttachmentHold.attachment_id == old.id)
            .values(created_at=utcnow() - timedelta(hours=2))
        )
    old_path = services.attachments.path_of(user_id, old.id)
    orphan = services.attachments_dir / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(mode=0o700)
    orphan.write_bytes(b"left by a crash between commit and delete")
    stale = services.attachments_dir / f"{attachment_files.INCOMING_PREFIX}x.part"
    stale.write_bytes(b"half a copy")
    os.utime(stale, (0, 0))
    swept = services.attachments.sweep()
    assert (swept.rows, swept.files, swept.copies) == (1, 2, 1)
    assert not old_path.exists() and not orphan.exists() and not stale.exists()
    assert services.attachments.path_of(user_id, fresh.id).exists()
    assert services.attachments.path_of(user_id, sent.id).exists()
    with pytest.raises(NotFoundError):
        services.messages.send(user_id, services.threads.create(user_id).id, "x", attachments=[old])


def test_an_add_between_the_commit_and_the_file_removal_keeps_the_file(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freeing checks, under the placing lock, that no row names the file any more."""
    first = services.attachments.add(user_id, _png(tmp_path / "again.png"))
    message_id = _send(services, user_id, first)
    real_remove = services.attachments._remove_quietly
    again: list[AttachmentRecord] = []

    def add_first(digests: list[str]) -> None:  # the delete committed; its files not gone
        again.append(services.attachments.add(user_id, tmp_path / "again.png"))
        real_remove(digests)

    monkeypatch.setattr(services.attachments, "_remove_quietly", add_first)
    services.messages.delete(user_id, message_id)
    assert again and services.attachments.path_of(user_id, again[0].id).exists()
    assert _rows(services, Attachment) == 1 and len(_files(services)) == 1


def test_pending_freeing_waits_for_the_commit(
    services: Services, user_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delete that rolls back frees no file."""
    image = services.attachments.add(user_id, _png(tmp_path / "stay.png"))
    message_id = _send(services, user_id, image)
    stored = services.attachments.path_of(user_id, image.id)

    def fail_after_queueing(session: object, ids: object) -> None:
        real_free(session, ids)  # type: ignore[arg-type]
        raise RuntimeError("the commit never came")

    real_free = services.attachments.free_unused
    monkeypatch.setattr(services.attachments, "free_unused", fail_after_queueing)
    with pytest.raises(RuntimeError):
        services.messages.delete(user_id, message_id)
    assert stored.exists() and _rows(services, Attachment) == 1
    assert services.messages.get(user_id, message_id).attachments[0].id == image.id
