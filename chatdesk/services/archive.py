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
the unit a person thinks in. A chat deleted meanwhile is skipped, with the reason.

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
import posixpath
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from sqlalchemy import func, select, update

from chatdesk import __version__
from chatdesk.services.errors import NotFoundError, ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.json_stream import EXACT
from chatdesk.services.records import ThreadRecord
from chatdesk.services.threads import clean_title
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, ExecutionLog, Message, Thread

if TYPE_CHECKING:  # transfer imports this module, and calls it with itself
    from chatdesk.services.transfer import ImportProgress, ImportResult, TransferService

FORMAT = "chatdesk-archive"
VERSION = 1
MANIFEST = "manifest.json"
CHATS_DIR = "chats"
MAX_MANIFEST_BYTES = 64 << 20
MAX_MEMBER_BYTES = 1 << 30
"""A chat file larger than this is refused (what a one-chat import refuses too)."""
MAX_ARCHIVE_BYTES = 16 << 30
"""What every chat of an archive may unpack to, together."""
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


@dataclass(frozen=True)
class ArchiveImport:
    """The chats an archive import added, in the archive's order."""

    threads: tuple[ThreadRecord, ...]
    messages: int
    executions: int


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
class _Chosen:
    thread_id: int
    title: str
    messages: int


def chosen_chats(uow: UnitOfWork, user_id: int, thread_ids: list[int] | None) -> list[_Chosen]:
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
    with uow.read(background=True) as session:
        rows = [_Chosen(i, t, n) for i, t, n in session.execute(query)]
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

    with _writer(target, as_zip) as put:
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


def _run_counts(uow: UnitOfWork, thread_id: int) -> tuple[int, int]:
    with uow.read(background=True) as session:
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


@contextlib.contextmanager
def _writer(target: Path, as_zip: bool) -> Iterator[Put]:
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

                yield put_member
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

        yield put_file
        if target.exists():
            target.rmdir()  # empty (checked): the archive takes its place
        os.replace(folder, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


# -- reading -------------------------------------------------------------------------------


@dataclass
class Archive:
    """An archive whose manifest was checked: its chats and how to open each member."""

    place: str
    chats: list[ArchivedChat]
    _open: Callable[[str], IO[bytes]]
    _size: Callable[[str], int]
    _close: Callable[[], None]

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
            chats = _checked_manifest(source.read(MAX_MANIFEST_BYTES + 1), path.name)
        unpacked = 0
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

    return Archive(path.name, chats, open_member, lambda name: infos[name].file_size, archive.close)


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
    chats = _checked_manifest(data, place)
    root = folder.resolve()
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
        place, chats, open_member, lambda name: (folder / name).stat().st_size, lambda: None
    )


def _checked_manifest(data: bytes, place: str) -> list[ArchivedChat]:
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
    return checked


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


# -- import --------------------------------------------------------------------------------


def import_archive(
    transfer: TransferService,
    uow: UnitOfWork,
    user_id: int,
    path: Path | str,
    *,
    on_progress: ArchiveProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ArchiveImport:
    """Import every chat of the archive at ``path`` as new chats of ``user_id``.

    Each chat keeps its title (marked "(imported)" only beside a chat the person had
    before) and its place in the chat list (its last activity). The oldest is imported
    first, so new ids keep the chats' order. A chat file's problem is told with its
    member's name (``chats/0002-x.json: messages[3].role: ...``).
    """
    with read_manifest(path) as archive:
        total = sum(chat.messages for chat in archive.chats)
        titles_before = _titles(uow, user_id)
        imported: list[tuple[ImportResult, ArchivedChat]] = []
        done = 0
        try:
            # batch: all-or-nothing once the batch writer lands (until then the chats
            # are published one by one and deleted again if a later one fails)
            for number, chat in enumerate(reversed(archive.chats), start=1):
                progress = _chat_progress(
                    on_progress, number, len(archive.chats), chat, done, total
                )
                try:
                    result = transfer.import_stream(
                        user_id,
                        partial(archive.open, chat.json),
                        archive.size(chat.json),
                        on_progress=progress,
                        should_stop=should_stop,
                    )
                except ArchiveError:
                    raise
                except ValidationError as error:
                    raise ArchiveError(f"{archive.place}: {chat.json}: {error}") from None
                imported.append((result, chat))
                if (result.messages, result.executions) != (chat.messages, chat.executions):
                    raise ArchiveError(
                        f"{archive.place}: {MANIFEST} says {chat.json} holds "
                        f"{chat.messages:,} messages and {chat.executions:,} runs; it holds "
                        f"{result.messages:,} and {result.executions:,}."
                    )
                done += chat.messages
            imported.reverse()  # the archive's order
            threads = _restore_places(uow, user_id, archive, imported, titles_before)
        except BaseException:
            _delete(uow, user_id, [result.thread.id for result, _chat in imported])
            raise
    return ArchiveImport(
        threads,
        sum(result.messages for result, _chat in imported),
        sum(result.executions for result, _chat in imported),
    )


def _chat_progress(
    on_progress: ArchiveProgressCallback | None,
    number: int,
    chats: int,
    chat: ArchivedChat,
    done: int,
    total: int,
) -> Callable[[ImportProgress], None] | None:
    """A chat's own import progress as the archive's (its written messages count)."""
    if on_progress is None:
        return None
    from chatdesk.services.transfer import ImportStage  # at run time: transfer imports us

    def report(progress: ImportProgress) -> None:
        written = progress.done if progress.stage is ImportStage.WRITING else 0
        on_progress(ArchiveProgress(number, chats, chat.title, done + written, total))

    return report


def _titles(uow: UnitOfWork, user_id: int) -> set[str]:
    with uow.read(background=True) as session:
        return set(session.scalars(select(Thread.title).where(Thread.user_id == user_id)))


def _restore_places(
    uow: UnitOfWork,
    user_id: int,
    archive: Archive,
    imported: list[tuple[ImportResult, ArchivedChat]],
    titles_before: set[str],
) -> tuple[ThreadRecord, ...]:
    """Give each imported chat back its title and last activity, as in the archive."""
    heads = [_head(archive, chat.json) for _result, chat in imported]
    with uow.write(background=True) as (session, changes):
        for (result, _chat), (title, updated) in zip(imported, heads, strict=True):
            values: dict[str, Any] = {}
            if title is not None and title not in titles_before:
                values["title"] = title
            if updated is not None:
                values["updated_at"] = updated
            if values:
                session.execute(
                    update(Thread)
                    .where(Thread.id == result.thread.id, Thread.user_id == user_id)
                    .values(**values),
                    execution_options={"synchronize_session": False},
                )
        rows = session.scalars(
            select(Thread).where(Thread.id.in_([result.thread.id for result, _chat in imported]))
        )
        records = {row.id: ThreadRecord.of(row) for row in rows}
        for record in records.values():
            changes.append(
                Change(ChangeKind.UPDATED, Entity.THREAD, record.id, record.id, user_id, {}, record)
            )
    return tuple(records[result.thread.id] for result, _chat in imported)


def _head(archive: Archive, member: str) -> tuple[str | None, datetime | None]:
    """The title and last activity a chat file gives its chat (read off its start)."""
    with archive.open(member) as source:
        thread = next(iter(EXACT.items(source, "thread")), None)
    if not isinstance(thread, dict):
        return None, None
    title: str | None = None
    name = thread.get("title")
    if isinstance(name, str):
        with contextlib.suppress(ValidationError):
            title = clean_title(name)
    updated: datetime | None = None
    stamp = thread.get("updated_at")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError, OverflowError):
            moment = datetime.fromisoformat(stamp)
            updated = moment.astimezone(UTC) if moment.tzinfo is not None else None
    return title, updated


def _delete(uow: UnitOfWork, user_id: int, thread_ids: list[int]) -> None:
    """Take back the chats of an archive import that did not finish."""
    for thread_id in thread_ids:
        with uow.write(background=True) as (session, changes):
            thread = session.get(Thread, thread_id)
            if thread is None or thread.user_id != user_id:
                continue
            session.delete(thread)
            changes.append(Change(ChangeKind.DELETED, Entity.THREAD, thread_id, thread_id, user_id))
