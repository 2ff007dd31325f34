"""Many chats in one archive: a folder or a ``.zip`` with a manifest, and back.

An archive holds ``manifest.json``::

    {"format": "chatdesk-archive", "version": 1, "exported_at": ..., "app_version": ...,
     "chats": [{"title", "json": "chats/0001-<name>.json",
                "markdown": "chats/0001-<name>.md", "messages", "executions"}]}

and, per chat, its chatdesk JSON (complete: tree, settings, runs and every step,
redacted; ``TransferService.write_json``) and its Markdown (the path shown). Each file
is streamed straight into its place (a zip member is written as it is produced), so no
chat is ever held whole. Each chat is read in a read transaction of its own: one
transaction for the whole archive would keep SQLite from checkpointing its WAL for as
long as the export runs (the app's writes pile up in the WAL meanwhile), and a chat is
the unit a person thinks in (measured: a 100,000-message chat with 250,000 steps reads
for ~10-17 s of JSON and ~25 s of Markdown, each its own transaction). A chat deleted
meanwhile is skipped, with the reason. Its reads are foreground turns, like the one-chat
export's: a read never blocks a writer, and a background turn waits 0.1 s after each
GUI transaction (1,000 chats took 100 s longer so).

Written atomically: a zip beside its target, a folder as a hidden sibling, renamed
into place once whole; a cancelled or failed export leaves nothing behind.

Reading one back (``read_manifest``) treats it as any file from elsewhere: a member
name that leaves the archive, a member that is missing or too big, a zip that would
unpack past ``MAX_ARCHIVE_BYTES``: refused, naming the place. ``import_archive`` then
imports every chat of it through ``TransferService``, all of them or none.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import func, select

from chatdesk import __version__
from chatdesk.services import attachment_transfer
from chatdesk.services.attachments import Carried
from chatdesk.services.errors import NotFoundError, ValidationError
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, ExecutionLog, Message, Thread

if TYPE_CHECKING:  # transfer imports this module, and calls it with itself
    from chatdesk.services.transfer import TransferService

FORMAT = "chatdesk-archive"
VERSION = 1
MANIFEST = "manifest.json"
CHATS_DIR = "chats"
MAX_NAME_CHARS = 60
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
_NOT_IN_NAMES = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


class ArchiveError(ValidationError):
    """An archive that cannot be written or read; the message names the place."""


class ArchiveCancelled(Exception):
    """The export was stopped on request; nothing of it was left behind."""


@dataclass(frozen=True)
class ArchiveProgress:
    """Where an export or import of an archive is: chat ``chat`` of ``chats``, and
    ``messages`` of every chat's ``total`` messages done."""

    chat: int
    chats: int
    title: str
    messages: int
    total: int


ArchiveProgressCallback = Callable[[ArchiveProgress], None]


@dataclass(frozen=True)
class ArchivedChat:
    """One chat of a manifest: its title, its two members, what it holds."""

    title: str
    json: str
    markdown: str
    messages: int
    executions: int


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote (``skipped``: title and reason of chats left out)."""

    path: Path
    chats: int
    messages: int
    executions: int
    steps: int
    skipped: tuple[tuple[str, str], ...] = ()


# -- names ---------------------------------------------------------------------------------


def safe_name(title: str) -> str:
    """A file name from a chat title that any system can hold: no separators, no
    control or Windows-forbidden characters, no ``..``, no reserved device name, no
    trailing dot or space, at most ``MAX_NAME_CHARS`` characters; ``chat`` if nothing
    is left. (``member_names`` numbers them, so they are unique too.)"""
    text = unicodedata.normalize("NFC", title)
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")  # controls, bidi
    text = _NOT_IN_NAMES.sub(" ", text)
    text = "-".join(text.split())
    text = re.sub(r"\.{2,}", ".", text)[:MAX_NAME_CHARS].strip(". -")
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = f"_{text}"
    return text or "chat"


def member_names(number: int, title: str) -> tuple[str, str]:
    """``chats/0001-<name>.json`` and ``.md`` of the ``number``-th chat (from 1)."""
    stem = f"{CHATS_DIR}/{number:04d}-{safe_name(title)}"
    return f"{stem}.json", f"{stem}.md"


# -- export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatChoice:
    """A chat one may put into an archive: its id, title and number of messages."""

    thread_id: int
    title: str
    messages: int


def chosen_chats(uow: UnitOfWork, user_id: int, thread_ids: list[int] | None) -> list[ChatChoice]:
    """The chats to export, in the chat list's order (pinned, then newest), with their
    message counts; ``thread_ids`` picks some (each must be the user's)."""
    counts = (
        select(Message.thread_id, func.count().label("n"))
        .where(Message.user_id == user_id)
        .group_by(Message.thread_id)
        .subquery()
    )
    query = (
        select(Thread.id, Thread.title, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.thread_id == Thread.id)
        .where(Thread.user_id == user_id)
        .order_by(Thread.pinned.desc(), Thread.updated_at.desc(), Thread.id.desc())
    )
    with uow.read() as session:
        rows = [ChatChoice(i, t, n) for i, t, n in session.execute(query)]
    if thread_ids is None:
        return rows
    found = {row.thread_id: row for row in rows}
    missing = [i for i in thread_ids if i not in found]
    if missing:
        raise NotFoundError(f"No chat of yours has the id {missing[0]}.")
    return [found[i] for i in dict.fromkeys(thread_ids)]


def export_archive(
    transfer: TransferService,
    uow: UnitOfWork,
    user_id: int,
    target: Path,
    thread_ids: list[int] | None = None,
    *,
    as_zip: bool,
    on_progress: ArchiveProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportResult:
    """Write the user's chats (or ``thread_ids``) as an archive at ``target``."""
    chats = chosen_chats(uow, user_id, thread_ids)
    total = sum(chat.messages for chat in chats)
    target = Path(target)
    _check_target(target, as_zip)
    done = 0
    entries: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    executions = steps = 0

    def report(number: int, title: str, messages: int) -> None:
        if should_stop is not None and should_stop():
            raise ArchiveCancelled
        if on_progress is not None:
            on_progress(ArchiveProgress(number, len(chats), title, messages, total))

    files: dict[str, Carried] = {}
    with _writer(target, as_zip) as (put, put_file):
        for number, chat in enumerate(chats, start=1):
            report(number, chat.title, done)
            json_name, markdown_name = member_names(number, chat.title)
            counter = _Counter(partial(report, number, chat.title), done)
            try:
                put(json_name, partial(_write_json, transfer, user_id, chat.thread_id, counter))
                put(markdown_name, partial(_write_markdown, transfer, user_id, chat.thread_id))
            except NotFoundError:
                skipped.append((chat.title, "deleted while the archive was written"))
                continue
            for carried in _carried(uow, chat.thread_id):
                if carried.sha256 not in files:
                    report(number, chat.title, done + counter.n)
                    put_file(
                        attachment_transfer.member_name(carried.sha256),
                        transfer.attachments.files.path(carried.sha256),
                    )
                    files[carried.sha256] = carried
            runs, chat_steps = _run_counts(uow, chat.thread_id)
            executions += runs
            steps += chat_steps
            done += counter.n
            entries.append(
                {
                    "title": chat.title,
                    "json": json_name,
                    "markdown": markdown_name,
                    "messages": counter.n,
                    "executions": runs,
                }
            )
        report(len(chats), "", done)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": utcnow().astimezone(UTC).isoformat(),
            "app_version": __version__,
            "chats": entries,
            "attachments": [attachment_transfer.entry(one) for one in files.values()],
        }
        put(MANIFEST, partial(_write_manifest, manifest))
    return ExportResult(target, len(entries), done, executions, steps, tuple(skipped))


def _write_manifest(manifest: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")


class _Counter:
    """Counts the messages of a chat as they are written; reports every ``REPORT_EVERY``."""

    REPORT_EVERY = 500

    def __init__(self, report: Callable[[int], None], base: int) -> None:
        self.n = 0
        self._report = report
        self._base = base  # messages of the chats before

    def __call__(self, n: int) -> None:
        self.n = n
        if n % self.REPORT_EVERY == 0:
            self._report(self._base + n)


def _write_json(
    transfer: TransferService, user_id: int, thread_id: int, counter: _Counter, out: TextIO
) -> None:
    transfer.write_json(user_id, thread_id, out, on_message=counter)


def _write_markdown(transfer: TransferService, user_id: int, thread_id: int, out: TextIO) -> None:
    transfer.write_markdown(user_id, thread_id, out)


def _carried(uow: UnitOfWork, thread_id: int) -> list[Carried]:
    with uow.read() as session:
        return attachment_transfer.carried_by(session, thread_id)


def _run_counts(uow: UnitOfWork, thread_id: int) -> tuple[int, int]:
    with uow.read() as session:
        runs = session.scalar(
            select(func.count()).select_from(Execution).where(Execution.thread_id == thread_id)
        )
        steps = session.scalar(
            select(func.count())
            .select_from(ExecutionLog)
            .join(Execution, Execution.id == ExecutionLog.execution_id)
            .where(Execution.thread_id == thread_id)
        )
    return runs or 0, steps or 0


def _check_target(target: Path, as_zip: bool) -> None:
    if not target.parent.is_dir():
        raise ArchiveError(f"{target.parent} is not a folder that exists.")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise ArchiveError(f"{target.parent} cannot be written to.")
    if as_zip:
        if target.is_dir():
            raise ArchiveError(f"{target} is a folder; name a .zip file to write.")
    elif target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(f"{target} already exists and is not an empty folder.")


Put = Callable[[str, Callable[[TextIO], None]], None]
"""Writes one member: its name and a function writing its text."""
PutFile = Callable[[str, Path], None]
"""Copies a stored file in as one member, a chunk at a time."""
_COPY_CHUNK = 1 << 20


@contextlib.contextmanager
def _stored_file(path: Path) -> Iterator[io.BufferedReader]:
    """An attachment's stored copy, opened to be copied into an archive."""
    try:
        source = path.open("rb")
    except OSError as error:
        raise ArchiveError(
            f"The stored copy of an attached file is missing or unreadable ({path}: "
            f"{error.strerror or error}); the archive was not written."
        ) from None
    with source:
        yield source


@contextlib.contextmanager
def _writer(target: Path, as_zip: bool) -> Iterator[tuple[Put, PutFile]]:
    """A place to ``put`` members; renamed to ``target`` once the block ends well."""
    if as_zip:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with (
                os.fdopen(fd, "w+b") as raw,
                zipfile.ZipFile(
                    raw, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6
                ) as archive,
            ):

                def put_member(name: str, write: Callable[[TextIO], None]) -> None:
                    with archive.open(name, "w", force_zip64=True) as member:
                        out = io.TextIOWrapper(member, encoding="utf-8", newline="\n")
                        write(out)
                        out.flush()
                        out.detach()

                def put_stored(name: str, path: Path) -> None:
                    with (
                        _stored_file(path) as source,
                        archive.open(name, "w", force_zip64=True) as member,
                    ):
                        shutil.copyfileobj(source, member, _COPY_CHUNK)

                yield put_member, put_stored
                archive.close()
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        (folder / CHATS_DIR).mkdir()

        def put_file(name: str, write: Callable[[TextIO], None]) -> None:
            with open(folder / name, "w", encoding="utf-8", newline="\n") as out:
                write(out)

        def put_stored_file(name: str, path: Path) -> None:
            place = folder / name
            place.parent.mkdir(exist_ok=True)
            with _stored_file(path) as source, open(place, "wb") as out:
                shutil.copyfileobj(source, out, _COPY_CHUNK)

        yield put_file, put_stored_file
        if target.exists():
            target.rmdir()  # empty (checked): the archive takes its place
        os.replace(folder, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
