"""A thread to a file and back: JSON (exact, versioned, importable) and Markdown (to read).

JSON format ``{"format": "chatdesk-thread", "version": 1}``: the thread's settings,
its executions (with a count of their logged steps) and its messages in order. Text is
kept exactly (lone surrogates and NUL travel as JSON escapes). Export streams rows
from one read transaction, a page at a time, so a 100,000-message thread is never held
as ORM objects; files are written beside their target and renamed into place, so a
failed export leaves no half file.

Import checks the whole file before writing anything (format, version, every field,
the services' size limits) and names the first problem it finds with its place in the
file. A run that was still going when the file was written comes back ended (failed,
*interrupted*), since nothing is running it any more.

Importing is built to run on a worker thread beside a GUI thread that keeps writing
(replies streaming, messages sent): it reports progress and can be cancelled between
steps, the parse hands the GIL back between pieces (``json_steps``), and it never holds
SQLite's single write lock for long. One transaction for 100,000 messages would hold
that lock for seconds (the full-text index is most of it), and every GUI write would
wait that long or fail at the busy timeout. So the rows are written in short
transactions under a hidden *staging* user, where no thread list, search or count of
the acting user can see them, and one last short transaction moves them to a new thread
of the acting user (a move of child rows to an existing parent, so no foreign key is
ever broken, on SQLite or PostgreSQL). Only then is the thread announced on the change
bus. A cancelled or failed import deletes what it staged; what a crash leaves staged is
deleted by the next import. Either way the acting user sees all of the chat or none.
Its transactions are *background* ones (``UnitOfWork``): the GUI's go first.

Markdown puts each message in a code fence longer than any backtick run in it, so a
reply cannot close the fence early or fake a heading of the export.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from chatdesk.redact import redact, redact_data, redact_known
from chatdesk.services.errors import ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.json_steps import load_in_steps
from chatdesk.services.messages import MAX_CONTENT_CHARS, MAX_USER_CONTENT_CHARS
from chatdesk.services.records import ThreadRecord
from chatdesk.services.threads import MAX_SYSTEM_PROMPT_CHARS, clean_title
from chatdesk.services.unit_of_work import UnitOfWork, owned_thread
from chatdesk.services.users import UserService
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, ExecutionLog, Message, Thread
from chatdesk.vocabulary import (
    ACTIVE_EXECUTION_STATUSES,
    ACTIVE_MESSAGE_STATUSES,
    ExecutionStatus,
    MessageStatus,
    Role,
)

log = logging.getLogger(__name__)

FORMAT = "chatdesk-thread"
VERSION = 1
PAGE = 1_000
MAX_IMPORT_BYTES = 1 << 30
"""A file larger than 1 GiB is refused before it is read."""
MAX_CREW_CHARS = 100
MAX_MODEL_CHARS = 200
INTERRUPTED_IMPORT = "Interrupted: this reply was still running when the chat was exported."
WRITE_CHUNK = 500
"""Messages per write transaction of an import (tens of milliseconds of write lock)."""
STAGING_USER = "chatdesk: import in progress"
"""The hidden user that owns an import's rows until they are complete."""
_IMPORTING = threading.Lock()
"""One import at a time per process, so clearing old staged rows never hits a live one."""

_MESSAGE_COLUMNS = (
    Message.id,
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

    READING = "reading"  # characters of the file parsed
    CHECKING = "checking"  # messages checked
    WRITING = "writing"  # messages written
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


class _Steps:
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

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    # -- export ------------------------------------------------------------------------

    def write_json(self, user_id: int, thread_id: int, out: TextIO) -> None:
        """Write the thread to ``out`` as chatdesk JSON, streaming its rows.

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
                },
            }
            out.write(_json_line(head)[:-1])  # reopened below to append the lists
            out.write(',\n"executions": [')
            steps = _step_counts(session, thread.id)
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
                out.write(("," if n else "") + "\n  " + _json_line(entry))
            out.write('\n],\n"messages": [')
            for n, row in enumerate(_stream(session, _MESSAGE_COLUMNS, Message, thread.id)):
                entry = {
                    "role": Role(row.role).value,
                    "content": redact_known(row.content),
                    "status": MessageStatus(row.status).value,
                    "triggers_execution": row.triggers_execution,
                    "execution": row.execution_id,
                    "metadata": redact_data(row.meta or {}),
                    "created_at": _stamp(row.created_at),
                    "updated_at": _stamp(row.updated_at),
                }
                out.write(("," if n else "") + "\n  " + _json_line(entry))
            out.write("\n]}\n")

    def write_markdown(self, user_id: int, thread_id: int, out: TextIO) -> None:
        """Write the thread as Markdown for people to read (not for importing)."""
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
            for row in _stream(session, _MESSAGE_COLUMNS, Message, thread.id):
                role = Role(row.role)
                status = MessageStatus(row.status)
                who = {Role.USER: "You", Role.ASSISTANT: "Assistant", Role.SYSTEM: "System"}[role]
                head = f"{who} · {_human_time(row.created_at)}"
                if status is not MessageStatus.COMPLETED:
                    head += f" · {status.value}"
                out.write(f"\n---\n\n### {head}\n\n")
                if row.content:
                    language = "markdown" if role is Role.ASSISTANT else "text"
                    out.write(fenced(redact_known(row.content), language))
                elif status is MessageStatus.COMPLETED:
                    out.write("*(empty)*\n")
                error = (row.meta or {}).get("error") or errors.get(row.execution_id)
                if status is MessageStatus.FAILED and isinstance(error, str) and error:
                    out.write(f"\n> **Failed:** {_one_line(redact(error))}\n")

    def export_json(self, user_id: int, thread_id: int, path: Path | str) -> None:
        """``write_json`` into ``path``, replacing it only once the whole file is written."""
        _atomic_write(Path(path), lambda out: self.write_json(user_id, thread_id, out))

    def export_markdown(self, user_id: int, thread_id: int, path: Path | str) -> None:
        _atomic_write(Path(path), lambda out: self.write_markdown(user_id, thread_id, out))

    # -- import ------------------------------------------------------------------------

    def import_file(
        self,
        user_id: int,
        path: Path | str,
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ImportResult:
        """Import a chatdesk JSON file as a new thread of ``user_id``, all or nothing.

        ``on_progress`` hears how far it got; when ``should_stop()`` turns true the import
        ends with ``ImportCancelled`` after deleting whatever it wrote.
        """
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_IMPORT_BYTES:
                raise TransferError(
                    f"{path.name} is {size:,} bytes; chatdesk imports files up to "
                    f"{MAX_IMPORT_BYTES:,} bytes."
                )
            raw = path.read_bytes()
        except OSError as error:
            raise TransferError(f"Cannot read {path.name}: {error.strerror or error}.") from None
        return self.import_json(user_id, raw, on_progress=on_progress, should_stop=should_stop)

    def import_json(
        self,
        user_id: int,
        data: bytes | str,
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ImportResult:
        """Import chatdesk JSON (bytes or text) as a new thread, all or nothing."""
        steps = _Steps(on_progress, should_stop)
        try:
            text = data if isinstance(data, str) else data.decode(json.detect_encoding(data))
            total = len(text)
            steps(ImportStage.READING, 0, total)
            document = load_in_steps(text, lambda done: steps(ImportStage.READING, done, total))
        except UnicodeDecodeError:
            raise TransferError("This file is not UTF-8 text, so not a chatdesk export.") from None
        except json.JSONDecodeError as error:
            raise TransferError(
                f"This file is not valid JSON (line {error.lineno}, column {error.colno}: "
                f"{error.msg})."
            ) from None
        except RecursionError:
            raise TransferError("This file nests its values too deeply to be an export.") from None
        try:
            plan = _Plan.of(document, steps)
        finally:
            _release(document)
        try:
            with _IMPORTING:
                return self._write(user_id, plan, steps)
        finally:
            _release(plan.executions, plan.messages)

    def _write(self, user_id: int, plan: _Plan, steps: _Steps) -> ImportResult:
        staging = UserService(self._uow).ensure(STAGING_USER)
        self._discard_staged(staging, None)  # left by an import that crashed
        try:
            staged = self._stage(staging, plan, steps)
            record = self._publish(user_id, staging, staged)
        except BaseException:
            try:
                self._discard_staged(staging, steps)
            except Exception:  # the next import clears what is left; keep the first error
                log.exception("could not delete the rows of a stopped import")
            raise
        return ImportResult(record, len(plan.messages), len(plan.executions))

    def _stage(self, staging: int, plan: _Plan, steps: _Steps) -> int:
        """Write the plan as a thread of the staging user, a chunk per transaction."""
        now = utcnow()
        with self._uow.write(background=True) as (session, _changes):
            thread = Thread(
                user_id=staging,
                title=plan.title,
                crew=plan.crew,
                model=plan.model,
                system_prompt=plan.system_prompt,
                created_at=plan.created_at or now,
                updated_at=now,
            )
            session.add(thread)
            session.flush()
            thread_id = thread.id
        self._stage_rows(staging, thread_id, plan, steps)
        return thread_id

    def _stage_rows(self, staging: int, thread_id: int, plan: _Plan, steps: _Steps) -> None:
        """Executions go in with the first chunk of messages that names them."""
        pending = {e.ref: e for e in plan.executions}
        new_ids: dict[object, int] = {}
        total = len(plan.messages)
        for start in range(0, max(total, 1), WRITE_CHUNK):
            steps(ImportStage.WRITING, start, total)
            chunk = plan.messages[start : start + WRITE_CHUNK]
            named = [pending.pop(m.ref) for m in chunk if m.ref in pending]
            if start + WRITE_CHUNK >= total:  # the last chunk also takes the unnamed ones
                named += pending.values()
            with self._uow.write(background=True) as (session, _changes):
                if named:
                    ids = session.scalars(
                        insert(Execution).returning(Execution.id, sort_by_parameter_order=True),
                        [{**e.values, "thread_id": thread_id} for e in named],
                    ).all()
                    new_ids.update(zip((e.ref for e in named), ids, strict=True))
                if chunk:
                    rows = [
                        {
                            **m.values,
                            "thread_id": thread_id,
                            "user_id": staging,
                            "execution_id": new_ids[m.ref] if m.ref is not None else None,
                        }
                        for m in chunk
                    ]
                    session.execute(insert(Message), rows)
        steps(ImportStage.WRITING, total, total)

    def _publish(self, user_id: int, staging: int, staged: int) -> ThreadRecord:
        """Move the staged rows to a new thread of ``user_id`` in one short transaction."""
        with self._uow.write(background=True) as (session, changes):
            source = session.get_one(Thread, staged)
            thread = Thread(
                user_id=user_id,
                title=source.title,
                crew=source.crew,
                model=source.model,
                system_prompt=source.system_prompt,
                created_at=source.created_at,
                updated_at=utcnow(),
            )
            session.add(thread)
            session.flush()
            plain = {"synchronize_session": False}
            session.execute(
                update(Message)
                .where(Message.thread_id == staged)
                .values(thread_id=thread.id, user_id=user_id, updated_at=Message.updated_at),
                execution_options=plain,  # a move, not an edit: updated_at stays as imported
            )
            session.execute(
                update(Execution).where(Execution.thread_id == staged).values(thread_id=thread.id),
                execution_options=plain,
            )
            session.execute(
                delete(Thread).where(Thread.id == staged, Thread.user_id == staging),
                execution_options=plain,
            )
            record = ThreadRecord.of(thread)
            changes.append(
                Change(ChangeKind.CREATED, Entity.THREAD, record.id, record.id, user_id, {}, record)
            )
        return record

    def _discard_staged(self, staging: int, steps: _Steps | None) -> None:
        """Delete every staged thread, a chunk of messages per transaction."""
        with self._uow.read(background=True) as session:
            threads = session.scalars(select(Thread.id).where(Thread.user_id == staging)).all()
            if not threads:
                return
            total = session.scalar(
                select(func.count()).select_from(Message).where(Message.thread_id.in_(threads))
            )
        done = 0
        for thread_id in threads:
            while True:
                if steps is not None:
                    steps.report(ImportStage.DISCARDING, done, total or 0)
                with self._uow.write(background=True) as (session, _changes):
                    ids = session.scalars(
                        select(Message.id).where(Message.thread_id == thread_id).limit(WRITE_CHUNK)
                    ).all()
                    if ids:
                        session.execute(
                            delete(Message).where(Message.id.in_(ids)),
                            execution_options={"synchronize_session": False},
                        )
                    else:  # the thread is empty now: its executions go with it
                        session.execute(
                            delete(Thread).where(Thread.id == thread_id, Thread.user_id == staging),
                            execution_options={"synchronize_session": False},
                        )
                done += len(ids)
                if not ids:
                    break


def _release(*values: object) -> None:
    """Free big lists (also those in a dict) a slice at a time.

    Freeing 100,000 parsed rows at once is one C call of ~100 ms that keeps the GIL, so
    the GUI thread would stall; slices of ``PAGE`` rows let it in between.
    """
    for value in values:
        lists = value.values() if isinstance(value, dict) else [value]
        for items in lists:
            if isinstance(items, list):
                while items:
                    del items[-PAGE:]


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


def _atomic_write(path: Path, write: Callable[[TextIO], None]) -> None:
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


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


def _human_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- checking an import ---------------------------------------------------------------------


@dataclass(frozen=True)
class _ExecutionPlan:
    ref: object
    values: dict[str, Any]


@dataclass(frozen=True)
class _MessagePlan:
    ref: object | None
    values: dict[str, Any]


@dataclass
class _Plan:
    """A file's content, fully checked and ready to insert."""

    title: str
    crew: str
    model: str | None
    system_prompt: str | None
    created_at: datetime | None
    executions: list[_ExecutionPlan]
    messages: list[_MessagePlan]

    @classmethod
    def of(cls, document: object, steps: _Steps | None = None) -> _Plan:
        """Check ``document``; ``steps`` hears of each message checked (and may stop it)."""
        step = steps or _Steps(None, None)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise TransferError("This file is not a chatdesk chat export (JSON).")
        version = document.get("version")
        if type(version) is not int:
            raise TransferError("This chatdesk export has no valid version number.")
        if version != VERSION:
            newer = " by a newer chatdesk" if version > VERSION else ""
            raise TransferError(
                f"This export was written{newer} in format version {version}; "
                f"this chatdesk reads version {VERSION}."
            )
        thread = _field(document, "thread", dict, "the file")
        where = "thread"
        title_text = _field(thread, "title", str, where)
        try:
            title = clean_title(title_text)
        except ValidationError as error:
            raise TransferError(f"thread.title: {error}") from None
        crew = _text(thread, "crew", where, MAX_CREW_CHARS, default="assistant")
        if not crew.strip():
            raise TransferError("thread.crew: a thread needs a crew.")
        model = _optional_text(thread, "model", where, MAX_MODEL_CHARS)
        prompt = _optional_text(thread, "system_prompt", where, MAX_SYSTEM_PROMPT_CHARS)
        thread_created = _time(thread, "created_at", where, required=False)

        executions: list[_ExecutionPlan] = []
        refs: set[object] = set()
        for n, item in enumerate(_field(document, "executions", list, "the file", default=[])):
            where = f"executions[{n}]"
            if not isinstance(item, dict):
                raise TransferError(f"{where}: expected an object.")
            ref = _ref(item.get("ref"), f"{where}.ref")
            if ref is None:
                raise TransferError(f"{where}.ref: missing.")
            if ref in refs:
                raise TransferError(f"{where}.ref: {ref!r} is used twice.")
            refs.add(ref)
            status = _enum(item, "status", ExecutionStatus, where)
            run_error = _optional_text(item, "error", where, MAX_CONTENT_CHARS)
            finished = _time(item, "finished_at", where, required=False)
            if status in ACTIVE_EXECUTION_STATUSES:
                status, run_error = ExecutionStatus.FAILED, run_error or INTERRUPTED_IMPORT
                finished = finished or utcnow()
            values = {
                "crew": _text(item, "crew", where, MAX_CREW_CHARS),
                "status": status,
                "model": _optional_text(item, "model", where, MAX_MODEL_CHARS),
                "started_at": _time(item, "started_at", where, required=False),
                "finished_at": finished,
                "result": _optional_text(item, "result", where, MAX_CONTENT_CHARS),
                "error": run_error,
                "created_at": _time(item, "created_at", where, required=False) or utcnow(),
            }
            for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
                values[name] = _count(item, name, where)
            executions.append(_ExecutionPlan(ref, values))

        messages: list[_MessagePlan] = []
        triggers: set[object] = set()
        items = _field(document, "messages", list, "the file")
        for n, item in enumerate(items):
            step(ImportStage.CHECKING, n, len(items))
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
            if ref is not None and ref not in refs:
                raise TransferError(f"{where}.execution: no execution has ref {ref!r}.")
            if ref is not None and role is Role.USER:
                if ref in triggers:
                    raise TransferError(
                        f"{where}.execution: execution {ref!r} already has a user message."
                    )
                triggers.add(ref)
            metadata = _field(item, "metadata", dict, where, default={})
            if status in ACTIVE_MESSAGE_STATUSES:
                status = MessageStatus.FAILED
                if role is Role.ASSISTANT:
                    metadata = {**metadata, "error": INTERRUPTED_IMPORT, "interrupted": True}
            created = _time(item, "created_at", where, required=True)
            assert created is not None
            triggers_execution = _field(item, "triggers_execution", bool, where, default=False)
            values = {
                "role": role,
                "content": content,
                "status": status,
                "triggers_execution": triggers_execution,
                "meta": metadata,
                "created_at": created,
                "updated_at": _time(item, "updated_at", where, required=False) or created,
            }
            messages.append(_MessagePlan(ref, values))
        return cls(title, crew, model, prompt, thread_created, executions, messages)


_TYPE_NAMES = {str: "text", dict: "an object", list: "a list", bool: "true or false"}


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


def _enum(item: Mapping[str, Any], name: str, kind: Any, where: str) -> Any:
    value = _field(item, name, str, where)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise TransferError(f"{where}.{name}: {value!r} is not one of {allowed}.") from None


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
    if type(value) is int or (type(value) is str and value):
        return value
    raise TransferError(f"{where}: expected a number or text naming an execution.")


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
        raise TransferError(f"{where}.{name}: {value[:40]!r} is not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise TransferError(f"{where}.{name}: the time has no time zone.")
    return moment.astimezone(UTC)
