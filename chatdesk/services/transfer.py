"""A thread to a file and back: JSON (exact, versioned, importable) and Markdown (to read).

JSON format ``{"format": "chatdesk-thread", "version": 1}``: the thread's settings,
its executions (each with its steps, ``trace_transfer``) and its messages, each after its
parent: a message's ``ref`` names it, its ``parent`` names the message it follows (a
file without them is one line, each message following the one before), and the
thread's ``current_leaf`` ends the path shown. Older chatdesks ignore the three. Text is
kept exactly (lone surrogates and NUL travel as JSON escapes). Export streams rows
from one read transaction, a page at a time, so a 100,000-message thread is never held
as ORM objects; files are written beside their target and renamed into place, so a
failed export leaves no half file.

Import checks the whole file before writing anything (format, version, every field,
the services' size limits) and names the first problem it finds with its place in the
file (``messages[12].created_at: year 1 with a time zone is out of range``). A run that
was still going when the file was written comes back ended (failed, *interrupted*),
since nothing is running it any more.

Import streams: the file is read twice, a message at a time (``json_stream``), never
held whole, so memory stays flat whatever its size (a 100,000-message, 87 MB export
peaks at about 80 MB resident where loading it whole took 540 MB). Pass one checks
every part and keeps only execution refs and counts; pass two reads the parts again and
writes them.

Importing is built to run on a worker thread beside a GUI thread that keeps writing
(replies streaming, messages sent): it reports progress and can be cancelled between
parts, the parser hands the GIL back between events, and it never holds SQLite's single
write lock for long. One transaction for 100,000 messages would hold
that lock for seconds (the full-text index is most of it), and every GUI write would
wait that long or fail at the busy timeout. So the rows are written in short
transactions under a hidden *staging* user, where no thread list, search or count of
the acting user can see them, and one last short transaction moves them to a new thread
of the acting user (a move of child rows to an existing parent, so no foreign key is
ever broken, on SQLite or PostgreSQL). Only then is the thread announced on the change
bus. A cancelled or failed import deletes what it staged; what a crash leaves staged is
deleted by the next import. Either way the acting user sees all of the chat or none.
Its transactions are *background* ones (``UnitOfWork``): the GUI's go first.

Markdown keeps each message's own Markdown, contained (``markdown_containment``): a
reply cannot write a message header of the export, leave a fence or HTML block open to
swallow the messages after it, or make a viewer fetch an image.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from chatdesk.private_files import write_atomically
from chatdesk.redact import redact, redact_data, redact_known
from chatdesk.services import (
    archive,
    attachment_transfer,
    chat_extras,
    chat_model_settings,
    trace_transfer,
)
from chatdesk.services import message_tree as tree
from chatdesk.services.archive import ArchiveProgressCallback, ChatChoice, ExportResult
from chatdesk.services.attachments import AttachmentService, Carried
from chatdesk.services.errors import ValidationError
from chatdesk.services.foreign.chat import Source
from chatdesk.services.import_batch import ImportBatch, known_imports, refuse_known
from chatdesk.services.json_stream import (
    NOT_AN_OBJECT,
    NOT_UTF8,
    JSONStreamError,
    Part,
    backend_for,
    list_items,
    members,
)
from chatdesk.services.markdown_containment import contained_markdown
from chatdesk.services.messages import MAX_CONTENT_CHARS, MAX_USER_CONTENT_CHARS
from chatdesk.services.records import ThreadRecord
from chatdesk.services.threads import MAX_SYSTEM_PROMPT_CHARS, clean_title
from chatdesk.services.unit_of_work import UnitOfWork, owned_thread
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, ExecutionLog, Message
from chatdesk.vocabulary import (
    ACTIVE_EXECUTION_STATUSES,
    ACTIVE_MESSAGE_STATUSES,
    ExecutionStatus,
    MessageStatus,
    Role,
    status_word,
)

if TYPE_CHECKING:  # it imports this module
    from chatdesk.services.archive_import import ArchiveImport

log = logging.getLogger(__name__)

FORMAT = "chatdesk-thread"
VERSION = 1
PAGE = 1_000
MAX_IMPORT_BYTES = 1 << 30
"""A file larger than 1 GiB is refused before it is read."""
MAX_EMBEDDED_BYTES = 250_000_000
"""The attached files one chat's JSON carries (in base64, a third more): past this, an
archive carries them."""
FILES = "attachments"
"""The top-level list of a one-chat JSON's attached files."""
MAX_CREW_CHARS = 100
MAX_MODEL_CHARS = 200
INTERRUPTED_IMPORT = "Interrupted: this reply was still running when the chat was exported."
WRITE_CHUNK = 500
"""Messages per write transaction of an import (tens of milliseconds of write lock)."""
_NOT_UTF8 = "This file is not UTF-8 text, so not a chatdesk export."
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff")
"""UTF-16 and UTF-32 byte order marks: JSON in another encoding than UTF-8."""
_NOT_AN_EXPORT = "This file is not a chatdesk chat export (JSON)."

_MESSAGE_COLUMNS = (
    Message.id,
    Message.parent_id,
    Message.chosen_at,
    Message.role,
    Message.content,
    Message.status,
    Message.triggers_execution,
    Message.execution_id,
    Message.meta,
    Message.created_at,
    Message.updated_at,
)
_EXECUTION_COLUMNS = (
    Execution.id,
    Execution.crew,
    Execution.status,
    Execution.model,
    Execution.started_at,
    Execution.finished_at,
    Execution.result,
    Execution.error,
    Execution.prompt_tokens,
    Execution.completion_tokens,
    Execution.total_tokens,
    Execution.created_at,
)


class TransferError(ValidationError):
    """A file that cannot be imported; the message says where and why."""


class ImportCancelled(Exception):
    """The import was stopped on request; nothing of it was kept."""


class ImportStage(StrEnum):
    """Where an import is; ``ImportProgress.done``/``total`` count different things."""

    READING = "reading"  # bytes of the file read and checked (pass one)
    WRITING = "writing"  # messages written
    IMPORTING = "importing"  # bytes of another app's export read and written (one pass)
    PUBLISHING = "publishing"  # chats shown, once all of the file is written
    DISCARDING = "discarding"  # cancelled or failed: staged messages deleted


@dataclass(frozen=True)
class ImportProgress:
    stage: ImportStage
    done: int
    total: int


@dataclass(frozen=True)
class ImportResult:
    thread: ThreadRecord
    messages: int
    executions: int


ProgressCallback = Callable[[ImportProgress], None]


class ImportSteps:
    """Progress reports (about one per percent of each stage) and cancel checks.

    Called once per item, so it stays cheap: ``should_stop`` is asked every call (an
    ``Event.is_set``), ``on_progress`` only when a stage starts or moves a percent.
    """

    def __init__(
        self, on_progress: ProgressCallback | None, should_stop: Callable[[], bool] | None
    ) -> None:
        self._on_progress = on_progress
        self._should_stop = should_stop
        self._stage: ImportStage | None = None
        self._next = 0

    def __call__(self, stage: ImportStage, done: int, total: int) -> None:
        if self._should_stop is not None and self._should_stop():
            raise ImportCancelled
        self.report(stage, done, total)

    def report(self, stage: ImportStage, done: int, total: int) -> None:
        """Report without the cancel check (for the clean-up after a cancel)."""
        if self._on_progress is None:
            return
        if stage is not self._stage or done >= self._next or done >= total:
            self._stage = stage
            self._next = done + max(total // 100, 1)
            self._on_progress(ImportProgress(stage, done, total))


def _stamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _json_line(value: Any) -> str:
    """Compact JSON, readable where the text allows it, exact always.

    Non-ASCII text is written as is unless it holds a lone surrogate (which UTF-8
    cannot carry); then the value is written with ``\\u`` escapes instead.
    """
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True)
    return text


class TransferService:
    """Exports the acting user's threads and imports files as new threads of theirs."""

    def __init__(self, uow: UnitOfWork, attachments: AttachmentService) -> None:
        self._uow = uow
        self.attachments = attachments

    # -- export ------------------------------------------------------------------------

    def write_json(
        self,
        user_id: int,
        thread_id: int,
        out: TextIO,
        *,
        on_message: Callable[[int], None] | None = None,
        with_files: bool = False,
    ) -> None:
        """Write the thread to ``out`` as chatdesk JSON, streaming its rows.

        ``with_files``: the attached files too, in base64 (a one-chat export; an archive
        carries them as members of their own), refused past ``MAX_EMBEDDED_BYTES``.

        ``on_message(n)`` hears each message as the ``n``-th is written (an archive's
        progress, which may stop the export by raising).

        Text is kept exactly, except secrets: a row written by an older chatdesk may hold
        a key a provider echoed, so errors and metadata are redacted, and replies lose
        every known key (the last line of ``chatdesk.redact``'s defence).
        """
        with self._uow.read() as session:
            thread = owned_thread(session, user_id, thread_id)
            head = {
                "format": FORMAT,
                "version": VERSION,
                "exported_at": _stamp(utcnow()),
                "thread": {
                    "title": thread.title,
                    "crew": thread.crew,
                    "model": thread.model,
                    "system_prompt": thread.system_prompt,
                    "created_at": _stamp(thread.created_at),
                    "current_leaf": thread.current_leaf_id,
                    **chat_extras.exported(session, thread),
                },
            }
            out.write(_json_line(head)[:-1])  # reopened below to append the lists
            out.write(',\n"executions": [')
            steps = _step_counts(session, thread.id)
            traces = trace_transfer.TraceReader(session, thread.id)
            for n, row in enumerate(_stream(session, _EXECUTION_COLUMNS, Execution, thread.id)):
                entry = {
                    "ref": row.id,
                    "crew": row.crew,
                    "status": ExecutionStatus(row.status).value,
                    "model": row.model,
                    "created_at": _stamp(row.created_at),
                    "started_at": _stamp(row.started_at),
                    "finished_at": _stamp(row.finished_at),
                    "result": _known(row.result),
                    "error": _masked(row.error),
                    "prompt_tokens": row.prompt_tokens,
                    "completion_tokens": row.completion_tokens,
                    "total_tokens": row.total_tokens,
                    "steps": steps.get(row.id, 0),
                }
                out.write(("," if n else "") + "\n  " + _json_line(entry)[:-1] + ', "trace": [')
                for k, step in enumerate(traces.items(row.id)):  # streamed: a page at a time
                    out.write(("," if k else "") + "\n    " + _json_line(step))
                out.write("]}")
            out.write('\n],\n"messages": [')
            files = attachment_transfer.links_by_message(session, thread.id)
            rows = _parents_first(_stream(session, _MESSAGE_COLUMNS, Message, thread.id))
            for n, row in enumerate(rows):
                entry = {
                    "ref": row.id,
                    "parent": row.parent_id,
                    "role": Role(row.role).value,
                    "content": redact_known(row.content),
                    "status": MessageStatus(row.status).value,
                    "triggers_execution": row.triggers_execution,
                    "execution": row.execution_id,
                    "metadata": redact_data(row.meta or {}),
                    "created_at": _stamp(row.created_at),
                    "updated_at": _stamp(row.updated_at),
                    "chosen_at": _stamp(row.chosen_at),
                }
                if row.id in files:
                    entry["attachments"] = files[row.id]
                out.write(("," if n else "") + "\n  " + _json_line(entry))
                if on_message is not None:
                    on_message(n + 1)
            out.write("\n]")
            if with_files:
                self._write_files(session, thread.id, out)
            out.write("}\n")

    def _write_files(self, session: Session, thread_id: int, out: TextIO) -> None:
        """The thread's attached files, each once, their bytes streamed as base64."""
        carried = attachment_transfer.carried_by(session, thread_id)
        total = sum(one.size for one in carried)
        if total > MAX_EMBEDDED_BYTES:
            raise ValidationError(
                f"This chat's attached files come to {total:,} bytes, more than one JSON "
                f"file carries ({MAX_EMBEDDED_BYTES:,}); export it in an archive instead."
            )
        out.write(',\n"attachments": [')
        for n, one in enumerate(carried):
            head = _json_line(attachment_transfer.entry(one))[:-1]
            out.write(("," if n else "") + "\n  " + head + ', "data": "')
            attachment_transfer.write_base64(self.attachments.files.path(one.sha256), out)
            out.write('"}')
        out.write("\n]")

    def write_markdown(
        self, user_id: int, thread_id: int, out: TextIO, *, all_branches: bool = False
    ) -> None:
        """Write the thread as Markdown for people to read (not for importing): the
        conversation as shown (the current path), or with ``all_branches`` every
        message, each after its parent, its headline naming its version."""
        with self._uow.read() as session:
            thread = owned_thread(session, user_id, thread_id)
            out.write(f"# {_one_line(thread.title)}\n\n")
            facts = [f"Crew: {_one_line(thread.crew)}"]
            if thread.model:
                facts.append(f"Model: {_one_line(thread.model)}")
            facts.append(f"Started: {_human_time(thread.created_at)}")
            facts.append(f"Exported from chatdesk: {_human_time(utcnow())}")
            out.write("".join(f"- {fact}\n" for fact in facts))
            if thread.system_prompt:
                out.write("\n**System prompt**\n\n" + fenced(thread.system_prompt, "text"))
            errors = _errors(session, thread.id)
            files = attachment_transfer.shown_by_message(session, thread.id)
            if all_branches:
                versions = _sibling_places(session, thread.id)
                rows = _parents_first(_stream(session, _MESSAGE_COLUMNS, Message, thread.id))
            else:
                versions = {}
                leaf = tree.current_leaf(session, thread)
                path = (
                    [] if leaf is None else tree.ids_up(session, thread.id, leaf, tree.WHOLE_PATH)
                )
                rows = _stream_ids(session, _MESSAGE_COLUMNS, path)
            for row in rows:
                role = Role(row.role)
                status = MessageStatus(row.status)
                who = {Role.USER: "You", Role.ASSISTANT: "Assistant", Role.SYSTEM: "System"}[role]
                head = f"{who} · {_human_time(row.created_at)}"
                if row.id in versions:
                    head += " · version {} of {}".format(*versions[row.id])
                if status is not MessageStatus.COMPLETED:
                    head += f" · {status_word(status)}"
                out.write(f"\n---\n\n## {head}\n\n")
                if row.content:
                    out.write(contained_markdown(_readable(redact_known(row.content))))
                elif status is MessageStatus.COMPLETED:
                    out.write("*(empty)*\n")
                if row.id in files:
                    out.write("\n**Attached:**\n\n")
                    out.write("".join(f"- {_attached_line(*shown)}\n" for shown in files[row.id]))
                error = (row.meta or {}).get("error") or errors.get(row.execution_id)
                if status is MessageStatus.FAILED and isinstance(error, str) and error:
                    out.write(f"\n> **Failed:** {_one_line(redact(error))}\n")

    def export_json(self, user_id: int, thread_id: int, path: Path | str) -> None:
        """``write_json`` into ``path`` with the attached files, replacing it only once
        the whole file is written."""
        write_atomically(
            Path(path), lambda out: self.write_json(user_id, thread_id, out, with_files=True)
        )

    def export_markdown(
        self, user_id: int, thread_id: int, path: Path | str, *, all_branches: bool = False
    ) -> None:
        write_atomically(
            Path(path),
            lambda out: self.write_markdown(user_id, thread_id, out, all_branches=all_branches),
        )

    # -- import ------------------------------------------------------------------------

    def import_file(
        self,
        user_id: int,
        path: Path | str,
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        again: bool = False,
    ) -> ImportResult:
        """Import a chatdesk JSON file as a new thread of ``user_id``, all or nothing.

        ``on_progress`` hears how far it got; when ``should_stop()`` turns true the import
        ends with ``ImportCancelled`` after deleting whatever it wrote. A file imported
        before (and its chat still there) raises ``AlreadyImportedError`` unless ``again``.
        """
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise TransferError(f"Cannot read {path.name}: {error.strerror or error}.") from None
        if size > MAX_IMPORT_BYTES:
            raise TransferError(
                f"{path.name} is {size:,} bytes; chatdesk imports files up to "
                f"{MAX_IMPORT_BYTES:,} bytes."
            )

        def reopen() -> IO[bytes]:
            try:
                return path.open("rb")
            except OSError as error:
                message = f"Cannot read {path.name}: {error.strerror or error}."
                raise TransferError(message) from None

        return self._import(user_id, reopen, size, ImportSteps(on_progress, should_stop), again)

    def archive_choices(self, user_id: int) -> list[ChatChoice]:
        """Every chat of ``user_id`` as an archive lists them (the chat list's order),
        with its number of messages."""
        return archive.chosen_chats(self._uow, user_id, None)

    def export_archive(
        self,
        user_id: int,
        target: Path | str,
        thread_ids: list[int] | None = None,
        *,
        as_zip: bool = True,
        on_progress: ArchiveProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ExportResult:
        """Every chat of ``user_id`` (or ``thread_ids``) into one archive (``archive.py``)."""
        return archive.export_archive(
            self,
            self._uow,
            user_id,
            Path(target),
            thread_ids,
            as_zip=as_zip,
            on_progress=on_progress,
            should_stop=should_stop,
        )

    def import_archive(
        self,
        user_id: int,
        path: Path | str,
        *,
        on_progress: ArchiveProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        again: bool = False,
    ) -> ArchiveImport:
        """Every chat of an archive as new chats of ``user_id``, all or none
        (``archive_import.py``)."""
        from chatdesk.services.archive_import import import_archive  # it builds on this module

        return import_archive(
            self,
            self._uow,
            user_id,
            path,
            on_progress=on_progress,
            should_stop=should_stop,
            again=again,
        )

    def import_json(
        self,
        user_id: int,
        data: bytes | str,
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        again: bool = False,
    ) -> ImportResult:
        """Import chatdesk JSON (UTF-8 bytes or text) as a new thread, all or nothing."""
        if isinstance(data, str):
            try:
                data = data.encode("utf-8")
            except UnicodeEncodeError:
                raise TransferError(_NOT_UTF8) from None
        content = data
        steps = ImportSteps(on_progress, should_stop)
        return self._import(user_id, lambda: io.BytesIO(content), len(content), steps, again)

    def _import(
        self,
        user_id: int,
        reopen: Callable[[], IO[bytes]],
        size: int,
        steps: ImportSteps,
        again: bool,
    ) -> ImportResult:
        """Check the whole file (pass one), then write it out of sight and show it (two)."""
        checked = self.check(reopen, size, steps)
        plan = checked.plan
        plan.check_carried()
        if not again:
            refuse_known(self._uow, user_id, {plan.imported_from: plan.thread.title})
        with ImportBatch(self._uow, user_id, self.attachments) as batch:
            batch.on_discard = lambda done, total: steps.report(ImportStage.DISCARDING, done, total)
            self._restore_files(batch, checked, steps)
            self.stage(batch, checked, steps)
            (record,) = batch.publish()
        return ImportResult(record, plan.messages, plan.executions)

    def import_sources(
        self,
        user_id: int,
        sources: Sequence[tuple[Callable[[], IO[bytes]], int]],
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        again: bool = False,
    ) -> list[ImportResult]:
        """Import several chatdesk JSON files (each ``(reopen, size)``: an archive's
        chats) as one batch: every file is checked first, then all are written and shown
        together, or none. Files imported before are skipped unless ``again``; when all
        were, ``AlreadyImportedError``."""
        steps = ImportSteps(on_progress, should_stop)
        checked = [self.check(reopen, size, steps) for reopen, size in sources]
        for one in checked:
            one.plan.check_carried()
        if not again:
            titles = {c.plan.imported_from: c.plan.thread.title for c in checked}
            refuse_known(self._uow, user_id, titles)
            known = known_imports(self._uow, user_id, titles)
            checked = [c for c in checked if c.plan.imported_from not in known]
        with ImportBatch(self._uow, user_id, self.attachments) as batch:
            batch.on_discard = lambda done, total: steps.report(ImportStage.DISCARDING, done, total)
            for one in checked:
                self._restore_files(batch, one, steps)
                self.stage(batch, one, steps)
            records = batch.publish()
        return [
            ImportResult(record, c.plan.messages, c.plan.executions)
            for record, c in zip(records, checked, strict=True)
        ]

    def check(self, reopen: Callable[[], IO[bytes]], size: int, steps: ImportSteps) -> CheckedFile:
        """Pass one: every part of the file checked, nothing written."""
        with reopen() as source:
            head = source.read(4)
            if head.startswith(_OTHER_BOMS) or b"\x00" in head:  # UTF-16 or UTF-32
                raise TransferError(_NOT_UTF8)
            source.seek(0)
            backend = backend_for(source, lambda _done: steps(ImportStage.READING, 0, size))
        check = _Check()
        scans = 1 + len(_LISTS)  # the file's shape, then each list's items

        def read(scan: int) -> Callable[[int], None]:
            return lambda done: steps(ImportStage.READING, scan * size + done, scans * size)

        digest = hashlib.sha256()
        with reopen() as source:
            hashed = cast(IO[bytes], _Hashing(source, digest))
            for part in _parts(hashed, _HEADER, backend, read(0)):
                check.part(part)
        check.shape_done()
        for scan, key in enumerate(_LISTS, start=1):
            with reopen() as source:
                items = list_items(source, key, step=read(scan), backend=backend)
                for index, item in enumerate(_told(items)):
                    check.item(key, index, item)
        if check.has_files:
            with reopen() as source:
                items = list_items(source, FILES, step=read(scans - 1), backend=backend)
                for index, item in enumerate(_told(items)):
                    check.carried(index, item)
        plan = check.finish(f"{Source.CHATDESK.value}:{digest.hexdigest()}")
        steps(ImportStage.READING, scans * size, scans * size)
        return CheckedFile(plan, reopen, backend)

    def _restore_files(self, batch: ImportBatch, checked: CheckedFile, steps: ImportSteps) -> None:
        """The files a one-chat JSON carries and its messages use, into the store (each
        checked again while copied) and held by ``batch``: one more read of the file."""
        wanted = checked.plan.attachments
        if not wanted or not checked.plan.carried:
            return
        with checked.reopen() as source:
            items = list_items(source, FILES, step=lambda _done: None, backend=checked.backend)
            for n, item in enumerate(_told(items)):
                steps(ImportStage.WRITING, 0, checked.plan.messages)
                try:
                    one = attachment_transfer.checked_entry(item, f"{FILES}[{n}]")
                except attachment_transfer.AttachmentTransferError:
                    raise TransferError("The file changed while it was being imported.") from None
                if one.sha256 not in wanted:
                    continue
                data = item.get("data")
                label = f"{FILES}[{n}]"
                try:
                    batch.restore_attachment(
                        one, partial(attachment_transfer.base64_chunks, data, label), label
                    )
                except TransferError:
                    raise
                except ValidationError as error:
                    raise TransferError(str(error)) from None

    def stage(self, batch: ImportBatch, checked: CheckedFile, steps: ImportSteps) -> int:
        """Write a checked file's chat into ``batch``; the staged thread's id."""
        plan = checked.plan
        thread = plan.thread
        now = utcnow()
        staged = batch.stage_thread(
            {
                "title": thread.title,
                "crew": thread.crew,
                "model": thread.model,
                "system_prompt": thread.system_prompt,
                "imported_from": plan.imported_from,
                "pinned": thread.extras.pinned,
                "draft": thread.extras.draft,
                "model_settings": chat_model_settings.stored(thread.extras.model_settings),
                "created_at": thread.created_at or now,
                "updated_at": now,
            }
        )
        chat_extras.stage_rules(self._uow, staged, thread.extras)
        missing = sorted(plan.attachments - batch.attachment_ids.keys())
        if missing:
            raise TransferError(f"A message carries the file {missing[0]}, which the file lacks.")
        chat_extras.stage_knowledge(self._uow, staged, thread.extras, batch.attachment_ids)
        leaf = self._stage_rows(batch, staged, checked, steps)
        with self._uow.write(background=True) as (session, _changes):
            batch.set_leaf(session, staged, leaf)
        return staged

    def _stage_rows(
        self, batch: ImportBatch, thread_id: int, checked: CheckedFile, steps: ImportSteps
    ) -> int | None:
        """Read the file again and write its rows, a chunk per short transaction; the
        new id of the file's current leaf, if it names one.

        One read per list, executions first (messages name them): the C parser skips
        the other list fast, wherever it is in the file.
        """
        plan = checked.plan
        writer = _ChunkWriter(self._uow, batch, thread_id, plan.messages, steps)
        for key in _LISTS:
            with checked.reopen() as source:
                items = list_items(source, key, step=writer.step, backend=checked.backend)
                for index, item in enumerate(_told(items)):
                    writer.add(key, index, item)
        writer.flush()
        if writer.written != (plan.messages, plan.executions):
            raise TransferError("The file changed while it was being imported.")
        steps(ImportStage.WRITING, plan.messages, plan.messages)
        return writer.message_id(plan.thread.current_leaf)


class _ChunkWriter:
    """Pass two's rows, written under the staging user ``WRITE_CHUNK`` at a time."""

    def __init__(
        self, uow: UnitOfWork, batch: ImportBatch, thread_id: int, total: int, steps: ImportSteps
    ) -> None:
        self._uow = uow
        self._staging = batch.staging_id
        self._attachment_ids = batch.attachment_ids
        self._thread_id = thread_id
        self._total = total
        self._steps = steps
        self._executions: list[tuple[object, dict[str, Any]]] = []
        self._trace = trace_transfer.HeldSteps()
        self._messages: list[_MessageItem] = []
        self._new_ids: dict[object, int] = {}
        self._message_ids: dict[object, int] = {}
        self._last_message: int | None = None
        self._messages_written = 0

    @property
    def written(self) -> tuple[int, int]:
        """Messages and executions written so far."""
        return self._messages_written, len(self._new_ids)

    def step(self, _done: int) -> None:
        self._steps(ImportStage.WRITING, self._messages_written, self._total)

    def add(self, key: str, index: int, item: Any) -> None:
        if key == "executions":
            self._executions.append(_execution_values(index, item))
            self._trace.add(self._executions[-1][0], item, f"executions[{index}]")
            if len(self._executions) >= WRITE_CHUNK or self._trace.count >= WRITE_CHUNK:
                self._write_executions()
        else:
            self._messages.append(_message_values(index, item))
            if len(self._messages) >= WRITE_CHUNK:
                self.flush()

    def message_id(self, ref: object | None) -> int | None:
        """The new id of the message the file calls ``ref``."""
        return None if ref is None else self._message_ids.get(ref)

    def flush(self) -> None:
        self._write_executions()
        if not self._messages:
            return
        try:
            rows = [
                {
                    **item.values,
                    "thread_id": self._thread_id,
                    "user_id": self._staging,
                    "execution_id": self._new_ids[item.execution]
                    if item.execution is not None
                    else None,
                }
                for item in self._messages
            ]
        except KeyError:
            raise TransferError("The file changed while it was being imported.") from None
        with self._uow.write(background=True) as (session, _changes):
            ids = session.scalars(
                insert(Message).returning(Message.id, sort_by_parameter_order=True), rows
            ).all()
            links = []
            for item, new_id in zip(self._messages, ids, strict=True):
                parent = self._last_message if item.parent is LINE else self.message_id(item.parent)
                if parent is not None:
                    links.append({"child": new_id, "parent": parent})
                if item.ref is not None:
                    self._message_ids[item.ref] = new_id
                self._last_message = new_id
            try:
                attachment_transfer.write_links(
                    session,
                    ids,
                    [item.attachments for item in self._messages],
                    self._attachment_ids,
                )
            except KeyError:
                raise TransferError("The file changed while it was being imported.") from None
            if links:  # parents come first in the file, so each has its id by now
                table = Message.__table__
                assert isinstance(table, Table)
                session.execute(
                    table.update()
                    .where(table.c.id == bindparam("child"))
                    # a link, not an edit: updated_at stays as imported
                    .values(parent_id=bindparam("parent"), updated_at=table.c.updated_at),
                    links,
                )
        self._messages_written += len(rows)
        self._messages.clear()

    @property
    def last_message(self) -> int | None:
        return self._last_message

    def _write_executions(self) -> None:
        if not self._executions:
            return
        rows = [{**values, "thread_id": self._thread_id} for _ref, values in self._executions]
        with self._uow.write(background=True) as (session, _changes):
            ids = session.scalars(
                insert(Execution).returning(Execution.id, sort_by_parameter_order=True), rows
            ).all()
        self._new_ids.update(zip((ref for ref, _values in self._executions), ids, strict=True))
        self._executions.clear()
        self._trace.write(self._uow, self._new_ids)  # after their executions


# -- reading rows ---------------------------------------------------------------------------


def _stream(
    session: Session, columns: tuple[Any, ...], table: type[Message] | type[Execution], thread: int
) -> Iterator[Any]:
    """Rows of one thread in id order, fetched a page at a time by keyset."""
    last = 0
    while True:
        rows = session.execute(
            select(*columns)
            .where(table.thread_id == thread, table.id > last)
            .order_by(table.id)
            .limit(PAGE)
        ).all()
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1].id


def _stream_ids(session: Session, columns: tuple[Any, ...], ids: list[int]) -> Iterator[Any]:
    """The messages ``ids`` in that order, fetched a page at a time."""
    for start in range(0, len(ids), PAGE):
        page = ids[start : start + PAGE]
        rows = {
            row.id: row for row in session.execute(select(*columns).where(Message.id.in_(page)))
        }
        yield from (rows[i] for i in page if i in rows)


def _sibling_places(session: Session, thread_id: int) -> dict[int, tuple[int, int]]:
    """(version, of how many) of every message that has siblings."""
    groups: dict[int | None, list[int]] = {}
    query = select(Message.id, Message.parent_id).where(Message.thread_id == thread_id)
    for message_id, parent_id in session.execute(query.order_by(Message.id)):
        groups.setdefault(parent_id, []).append(message_id)
    return {
        message_id: (place, len(group))
        for group in groups.values()
        if len(group) > 1
        for place, message_id in enumerate(group, start=1)
    }


def _parents_first(rows: Iterator[Any]) -> Iterator[Any]:
    """``rows`` (in id order) with each one after its parent.

    Id order is nearly that already: only a message sent while the one before waited
    for its reply follows a younger message (the reply), so it waits here until that
    has gone by. What is held is the ids seen and those few.
    """
    seen: set[int] = set()
    waiting: dict[int, list[Any]] = {}
    for row in rows:
        if row.parent_id is not None and row.parent_id not in seen:
            waiting.setdefault(row.parent_id, []).append(row)
            continue
        ready = [row]
        while ready:
            current = ready.pop()
            seen.add(current.id)
            yield current
            ready.extend(reversed(waiting.pop(current.id, [])))
    for orphans in waiting.values():  # cannot happen: the database keeps parents
        yield from orphans


def _step_counts(session: Session, thread_id: int) -> dict[int, int]:
    query = (
        select(ExecutionLog.execution_id, func.count())
        .join(Execution, Execution.id == ExecutionLog.execution_id)
        .where(Execution.thread_id == thread_id)
        .group_by(ExecutionLog.execution_id)
    )
    return {execution_id: count for execution_id, count in session.execute(query)}


def _errors(session: Session, thread_id: int) -> dict[int | None, str | None]:
    query = select(Execution.id, Execution.error).where(
        Execution.thread_id == thread_id, Execution.error.is_not(None)
    )
    return {execution_id: error for execution_id, error in session.execute(query)}


# -- writing files --------------------------------------------------------------------------


def _known(text: str | None) -> str | None:
    return redact_known(text) if text else text


def _masked(text: str | None) -> str | None:
    return redact(text) if text else text


_SURROGATE_OR_NUL = re.compile("[\ud800-\udfff\x00]")
_BACKTICKS = re.compile("`{3,}")


def _readable(text: str) -> str:
    """Text a UTF-8 Markdown file can hold: lone surrogates and NUL become U+FFFD."""
    return _SURROGATE_OR_NUL.sub("\ufffd", text)


def _one_line(text: str) -> str:
    return " ".join(_readable(text).split())


def fenced(text: str, language: str = "") -> str:
    """``text`` in a backtick fence longer than any backtick run inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = _readable(text)
    if not body.endswith("\n"):
        body += "\n"
    return f"{fence}{language}\n{body}{fence}\n"


def code_span(text: str) -> str:
    """``text`` as inline code: shown as is, never a link, an image or HTML."""
    text = _one_line(text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _attached_line(file_name: str, size: int, mime_type: str) -> str:
    """One attached file in Markdown: its name, type and size (the file is not there)."""
    return f"{code_span(file_name)} ({_one_line(mime_type)}, {_size_words(size)})"


def _size_words(size: int) -> str:
    for unit, step in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= step:
            return f"{size / step:,.1f} {unit}"
    return f"{size:,} bytes"


def _human_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- checking an import ---------------------------------------------------------------------


@dataclass(frozen=True)
class _ThreadPlan:
    title: str
    crew: str
    model: str | None
    system_prompt: str | None
    created_at: datetime | None
    current_leaf: object | None = None
    extras: chat_extras.ChatExtras = chat_extras.NONE


@dataclass(frozen=True)
class _Plan:
    """What pass one learnt of a file that passed every check: enough to write it."""

    thread: _ThreadPlan
    executions: int
    messages: int
    imported_from: str
    """``chatdesk:<sha-256 of the file>``: the same file imported again is recognised."""
    attachments: frozenset[str] = frozenset()
    """The digests of the files its messages carry."""
    carried: tuple[Carried, ...] = ()
    """The files a one-chat JSON carries itself (``FILES``)."""

    def check_carried(self) -> None:
        """A one-chat JSON carries every file its messages name."""
        missing = sorted(self.attachments - {one.sha256 for one in self.carried})
        if missing:
            raise TransferError(
                f"A message carries the attached file {missing[0]}, which the file lacks."
            )


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed pass one, and how to read it again for pass two."""

    plan: _Plan
    reopen: Callable[[], IO[bytes]]
    backend: ModuleType


class _Hashing:
    """A binary file whose bytes read are also fed to ``digest``."""

    def __init__(self, source: IO[bytes], digest: Any) -> None:
        self._source = source
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._digest.update(data)
        return data


_LISTS = ("executions", "messages")
_HEADER = ("format", "version", "thread")
_ALL = (*_HEADER, *_LISTS)


def _parts(
    source: IO[bytes], build: Container[str], backend: ModuleType, step: Callable[[int], None]
) -> Iterator[Part]:
    """``json_stream.members`` of an export, its errors told as ``TransferError``."""
    try:
        yield from members(source, lists=_LISTS, build=build, step=step, backend=backend)
    except JSONStreamError as error:
        if error.reason == NOT_UTF8:
            raise TransferError(_NOT_UTF8) from None
        if error.reason == NOT_AN_OBJECT:
            raise TransferError(_NOT_AN_EXPORT) from None
        if error.out_of_range:
            raise TransferError(f"{error}.") from None
        raise TransferError(f"This file is not valid JSON ({error}).") from None


class _Check:
    """Pass one: the file's shape read once (``part``), then each list's items (``item``).

    What it keeps is small whatever the file's size: the execution refs (to check the
    messages' references) and counts.
    """

    def __init__(self) -> None:
        self._seen: list[str] = []
        self._thread: _ThreadPlan | None = None
        self._counts = dict.fromkeys(_LISTS, 0)
        self._checked = dict.fromkeys(_LISTS, 0)
        self._refs: set[object] = set()
        self._triggered: set[object] = set()
        self._messages: set[object] = set()
        self._files: set[str] = set()
        self._carried: dict[str, Carried] = {}

    @property
    def has_files(self) -> bool:
        return FILES in self._seen

    def carried(self, n: int, item: Any) -> None:
        """``attachments[n]`` of a one-chat JSON: described truly, its bytes whole."""
        try:
            one = attachment_transfer.checked_embedded(item, f"{FILES}[{n}]")
        except attachment_transfer.AttachmentTransferError as error:
            raise TransferError(str(error)) from None
        if one.sha256 in self._carried:
            raise TransferError(f"{FILES}[{n}].sha256: {one.sha256} is carried twice.")
        self._carried[one.sha256] = one

    def part(self, part: Part) -> None:
        """A member of the top-level object, or (unbuilt) an item of a list."""
        key, index, value = part.key, part.index, part.value
        if index is not None:
            self._counts[key] += 1
            return
        self._seen.append(key)  # once each: the stream refuses a key seen twice
        if key == "format":
            if value != FORMAT:
                raise TransferError(_NOT_AN_EXPORT)
        elif key == "version":
            _check_version(value)
        elif key not in _ALL:
            return  # exported_at, or a field of a later chatdesk
        elif not {"format", "version"} <= set(self._seen):
            raise TransferError(_NOT_AN_EXPORT)  # they come first, as chatdesk writes them
        elif key == "thread":
            self._thread = _thread_plan(value)
        elif value is not None and value != []:  # a list starts ([]) or is left out (null)
            raise TransferError(f"the file.{key}: expected a list.")

    def shape_done(self) -> None:
        """The whole file went by once: what must be there is."""
        if "format" not in self._seen:
            raise TransferError(_NOT_AN_EXPORT)
        if "version" not in self._seen:
            raise TransferError("This chatdesk export has no valid version number.")
        if self._thread is None:
            raise TransferError("the file: the field 'thread' is missing.")
        if "messages" not in self._seen:
            raise TransferError("the file: the field 'messages' is missing.")

    def item(self, key: str, n: int, item: Any) -> None:
        """``key[n]``: every execution comes before the first message."""
        self._checked[key] += 1
        if key == "executions":
            ref, _values = _execution_values(n, item)
            try:
                trace_transfer.checked_steps(item, f"executions[{n}]")
            except trace_transfer.TraceError as error:
                raise TransferError(str(error)) from None
            if ref in self._refs:
                raise TransferError(f"executions[{n}].ref: {ref!r} is used twice.")
            self._refs.add(ref)
            return
        message = _message_values(n, item)
        self._check_tree(n, message)
        self._files.update(link.sha256 for link in message.attachments)
        ref, values = message.execution, message.values
        if ref is None:
            return
        if ref not in self._refs:
            raise TransferError(f"messages[{n}].execution: no execution has ref {ref!r}.")
        if values["role"] is Role.USER:
            if ref in self._triggered:
                raise TransferError(
                    f"messages[{n}].execution: execution {ref!r} already has a user message."
                )
            self._triggered.add(ref)

    def _check_tree(self, n: int, message: _MessageItem) -> None:
        """A message's parent comes before it in the file, so no tree can loop."""
        if message.ref is not None:
            if message.ref in self._messages:
                raise TransferError(f"messages[{n}].ref: {message.ref!r} is used twice.")
            self._messages.add(message.ref)
        parent = message.parent
        if parent is not None and parent is not LINE and parent not in self._messages:
            raise TransferError(f"messages[{n}].parent: no message before it has ref {parent!r}.")

    def finish(self, imported_from: str) -> _Plan:
        assert self._thread is not None  # shape_done saw it
        if self._checked != self._counts:
            raise TransferError("The file changed while it was being imported.")
        leaf = self._thread.current_leaf
        if leaf is not None and leaf not in self._messages:
            raise TransferError(f"thread.current_leaf: no message has ref {leaf!r}.")
        counts = self._counts
        return _Plan(
            self._thread,
            counts["executions"],
            counts["messages"],
            imported_from,
            frozenset(self._files) | {digest for digest, *_ in self._thread.extras.knowledge},
            tuple(self._carried.values()),
        )


def _told(items: Iterator[Any]) -> Iterator[Any]:
    """Items of a list whose read fails only if the file changed since its shape was read."""
    try:
        yield from items
    except JSONStreamError:
        raise TransferError("The file changed while it was being imported.") from None


def _check_version(version: object) -> None:
    if type(version) is not int:
        raise TransferError("This chatdesk export has no valid version number.")
    if version != VERSION:
        newer = " by a newer chatdesk" if version > VERSION else ""
        raise TransferError(
            f"This export was written{newer} in format version {version}; "
            f"this chatdesk reads version {VERSION}."
        )


def _thread_plan(thread: object) -> _ThreadPlan:
    where = "thread"
    if not isinstance(thread, dict):
        raise TransferError("the file.thread: expected an object.")
    title_text = _field(thread, "title", str, where)
    try:
        title = clean_title(title_text)
    except ValidationError as error:
        raise TransferError(f"thread.title: {error}") from None
    crew = _plain_text(thread, "crew", where, MAX_CREW_CHARS, default="assistant")
    if not crew.strip():
        raise TransferError("thread.crew: a thread needs a crew.")
    return _ThreadPlan(
        title,
        crew,
        _optional_plain_text(thread, "model", where, MAX_MODEL_CHARS),
        _optional_plain_text(thread, "system_prompt", where, MAX_SYSTEM_PROMPT_CHARS),
        _time(thread, "created_at", where, required=False),
        _ref(thread.get("current_leaf"), f"{where}.current_leaf"),
        _extras(thread),
    )


def _extras(thread: dict[str, Any]) -> chat_extras.ChatExtras:
    try:
        return chat_extras.checked(thread)
    except chat_extras.ExtrasError as error:
        raise TransferError(str(error)) from None


def _execution_values(n: int, item: object) -> tuple[object, dict[str, Any]]:
    """``executions[n]`` checked: its ref and the row to insert."""
    where = f"executions[{n}]"
    if not isinstance(item, dict):
        raise TransferError(f"{where}: expected an object.")
    ref = _ref(item.get("ref"), f"{where}.ref")
    if ref is None:
        raise TransferError(f"{where}.ref: missing.")
    status = _enum(item, "status", ExecutionStatus, where)
    run_error = _optional_text(item, "error", where, MAX_CONTENT_CHARS)
    finished = _time(item, "finished_at", where, required=False)
    if status in ACTIVE_EXECUTION_STATUSES:
        status, run_error = ExecutionStatus.FAILED, run_error or INTERRUPTED_IMPORT
        finished = finished or utcnow()
    values = {
        "crew": _plain_text(item, "crew", where, MAX_CREW_CHARS),
        "status": status,
        "model": _optional_plain_text(item, "model", where, MAX_MODEL_CHARS),
        "started_at": _time(item, "started_at", where, required=False),
        "finished_at": finished,
        "result": _optional_text(item, "result", where, MAX_CONTENT_CHARS),
        "error": run_error,
        "created_at": _time(item, "created_at", where, required=False) or utcnow(),
    }
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        values[name] = _count(item, name, where)
    return ref, values


@dataclass(frozen=True)
class _MessageItem:
    """``messages[n]`` checked on its own: its row and the refs it names.

    ``parent`` is ``LINE`` when the item has no ``parent`` field (a file from before
    trees): it follows the message before it.
    """

    execution: object | None
    ref: object | None
    parent: object | None
    values: dict[str, Any]
    attachments: tuple[attachment_transfer.Link, ...] = ()


LINE = object()
"""The parent of a message from a file without trees: the message before it."""


def _message_values(n: int, item: object) -> _MessageItem:
    """``messages[n]`` checked on its own."""
    where = f"messages[{n}]"
    if not isinstance(item, dict):
        raise TransferError(f"{where}: expected an object.")
    role = _enum(item, "role", Role, where)
    status = _enum(item, "status", MessageStatus, where)
    content = _field(item, "content", str, where)
    limit = MAX_USER_CONTENT_CHARS if role is Role.USER else MAX_CONTENT_CHARS
    if len(content) > limit:
        raise TransferError(
            f"{where}.content: {len(content):,} characters; "
            f"a {role.value} message can have at most {limit:,}."
        )
    if role is not Role.ASSISTANT and not content.strip():
        raise TransferError(f"{where}.content: a {role.value} message cannot be empty.")
    ref = _ref(item.get("execution"), f"{where}.execution")
    metadata = _field(item, "metadata", dict, where, default={})
    _check_json_data(metadata, f"{where}.metadata")
    if status in ACTIVE_MESSAGE_STATUSES:
        status = MessageStatus.FAILED
        if role is Role.ASSISTANT:
            metadata = {**metadata, "error": INTERRUPTED_IMPORT, "interrupted": True}
    created = _time(item, "created_at", where, required=True)
    assert created is not None
    values = {
        "role": role,
        "content": content,
        "status": status,
        "triggers_execution": _field(item, "triggers_execution", bool, where, default=False),
        "meta": metadata,
        "created_at": created,
        "updated_at": _time(item, "updated_at", where, required=False) or created,
        "chosen_at": _time(item, "chosen_at", where, required=False) or created,
    }
    parent = _ref(item.get("parent"), f"{where}.parent") if "parent" in item else LINE
    try:
        files = attachment_transfer.checked_links(item, where)
    except attachment_transfer.AttachmentTransferError as error:
        raise TransferError(str(error)) from None
    return _MessageItem(ref, _ref(item.get("ref"), f"{where}.ref"), parent, values, files)


_TYPE_NAMES = {str: "text", dict: "an object", list: "a list", bool: "true or false"}
MAX_REF_CHARS = 200
MAX_METADATA_DEPTH = 32
_NOT_STORABLE = re.compile("[\ud800-\udfff\x00]")


def _field(item: Mapping[str, Any], name: str, kind: type, where: str, default: Any = ...) -> Any:
    if name not in item or (item[name] is None and default is not ...):
        if default is ...:
            raise TransferError(f"{where}: the field {name!r} is missing.")
        return default
    value = item[name]
    if type(value) is not kind:
        raise TransferError(f"{where}.{name}: expected {_TYPE_NAMES.get(kind, kind.__name__)}.")
    return value


def _text(item: Mapping[str, Any], name: str, where: str, limit: int, default: Any = ...) -> str:
    value: str = _field(item, name, str, where, default)
    if len(value) > limit:
        raise TransferError(f"{where}.{name}: at most {limit:,} characters.")
    return value


def _optional_text(item: Mapping[str, Any], name: str, where: str, limit: int) -> str | None:
    if item.get(name) is None:
        return None
    return _text(item, name, where, limit)


def _plain_text(
    item: Mapping[str, Any], name: str, where: str, limit: int, default: Any = ...
) -> str:
    """Text for a plain column: no NUL (PostgreSQL refuses it), no lone surrogate (UTF-8)."""
    value = _text(item, name, where, limit, default)
    bad = _NOT_STORABLE.search(value)
    if bad is not None:
        what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate (not Unicode)"
        raise TransferError(f"{where}.{name}: holds {what} at character {bad.start()}.")
    return value


def _optional_plain_text(item: Mapping[str, Any], name: str, where: str, limit: int) -> str | None:
    if item.get(name) is None:
        return None
    return _plain_text(item, name, where, limit)


def _enum(item: Mapping[str, Any], name: str, kind: Any, where: str) -> Any:
    value = _field(item, name, str, where)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise TransferError(f"{where}.{name}: {value[:40]!r} is not one of {allowed}.") from None


def _count(item: Mapping[str, Any], name: str, where: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise TransferError(f"{where}.{name}: expected a whole number of at least 0.")
    return value


def _ref(value: object, where: str) -> object | None:
    if value is None:
        return None
    if type(value) is int:  # 64 bits at most, as the stream reads numbers
        return value
    if type(value) is str and 0 < len(value) <= MAX_REF_CHARS:
        return value
    raise TransferError(
        f"{where}: expected a whole number or up to {MAX_REF_CHARS} characters of text "
        "naming an execution."
    )


def _check_json_data(value: object, where: str) -> None:
    """Metadata the store can keep and write back as JSON: nesting within reason."""
    pending: list[tuple[object, str, int]] = [(value, where, 0)]
    while pending:
        item, place, depth = pending.pop()
        if depth > MAX_METADATA_DEPTH:
            raise TransferError(f"{place}: nested more than {MAX_METADATA_DEPTH} levels deep.")
        if isinstance(item, dict):
            pending.extend((v, f"{place}.{k}"[:200], depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            pending.extend((v, f"{place}[{n}]"[:200], depth + 1) for n, v in enumerate(item))


def _time(item: Mapping[str, Any], name: str, where: str, *, required: bool) -> datetime | None:
    value = item.get(name)
    if value is None:
        if required:
            raise TransferError(f"{where}: the field {name!r} is missing.")
        return None
    if not isinstance(value, str):
        raise TransferError(f"{where}.{name}: expected an ISO 8601 time as text.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        shown = _readable(value[:40])
        raise TransferError(f"{where}.{name}: {shown!r} is not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise TransferError(f"{where}.{name}: the time has no time zone.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise TransferError(
            f"{where}.{name}: year {moment.year} with a time zone is out of range."
        ) from None
