"""Use cases on executions: start a run, keep its steps, save its text, end it, recover.

Each step is one short transaction, so the database always holds what the person saw:
the coordinator saves partial text about once a second, and whatever the end of a run
(completed, failed, cancelled, or a crash found at the next start), the text the
reply had is kept.

What a run brings from the provider or the crew (its error, step details, reply
text) is redacted here before it is written, whatever the worker already did: a key
the worker never knew (or an older worker) is still kept out of the database.
Errors and details lose every secret shape; reply text only the known secrets.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatdesk.redact import redact, redact_data, redact_known
from chatdesk.services import message_tree as tree
from chatdesk.services.announce import note
from chatdesk.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.leases import (
    LIVE,
    claim,
    database_now,
    hold,
    orphaned,
    renew,
    take_over,
)
from chatdesk.services.messages import (
    EARLIER_RUNS_KEY,
    clean_content,
    execution_change,
)
from chatdesk.services.records import ExecutionLogRecord, ExecutionRecord, MessageRecord
from chatdesk.services.transitions import (
    EXECUTION_TRANSITIONS,
    MESSAGE_TRANSITIONS,
    check_transition,
)
from chatdesk.services.unit_of_work import UnitOfWork, owned_message
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, ExecutionLog, Message, Thread
from chatdesk.vocabulary import (
    ExecutionStatus,
    MessageStatus,
    Role,
)

INTERRUPTED_ERROR = "Interrupted: chatdesk stopped before this reply finished."
_MESSAGE_END = {
    ExecutionStatus.COMPLETED: MessageStatus.COMPLETED,
    ExecutionStatus.FAILED: MessageStatus.FAILED,
    ExecutionStatus.CANCELLED: MessageStatus.CANCELLED,
}


@dataclass(frozen=True)
class LogEntry:
    """One step to append to a run's trace."""

    event: str
    agent_role: str | None = None
    task_name: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunStart:
    """What ``start`` returns: the running execution, its trigger and its reply bubble."""

    execution: ExecutionRecord
    trigger: MessageRecord
    reply: MessageRecord
    history: list[MessageRecord]
    system_prompt: str | None


@dataclass(frozen=True)
class Tokens:
    prompt: int | None = None
    completion: int | None = None
    total: int | None = None


TOOLS_KEY = "tools"
NOTES_KEY = "notes"
MAX_TOOL_SUMMARIES = 50


@dataclass(frozen=True)
class ToolCallSummary:
    """One tool call of a run, as its reply's bubble names it."""

    server: str
    tool: str
    approval: str
    duration_ms: int
    failed: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "server": self.server,
            "tool": self.tool,
            "approval": self.approval,
            "duration_ms": self.duration_ms,
            "failed": self.failed,
        }


class ExecutionService:
    """Runs of threads the acting user owns."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def get(self, user_id: int, execution_id: int) -> ExecutionRecord:
        with self._uow.read() as session:
            return ExecutionRecord.of(_owned_execution(session, user_id, execution_id)[0])

    def pending(self, user_id: int) -> list[ExecutionRecord]:
        """Runs waiting to start, oldest first (what a coordinator picks up)."""
        query = (
            select(Execution)
            .join(Thread, Thread.id == Execution.thread_id)
            .where(Thread.user_id == user_id, Execution.status == ExecutionStatus.PENDING)
            .order_by(Execution.id)
        )
        with self._uow.read() as session:
            return [ExecutionRecord.of(row) for row in session.scalars(query)]

    def logs(
        self, user_id: int, execution_id: int, after_seq: int = -1, limit: int | None = None
    ) -> list[ExecutionLogRecord]:
        """The run's steps in order, optionally only those after ``after_seq``.

        ``limit`` reads a page (a run can hold thousands of steps): pass the last
        ``seq`` of one page as ``after_seq`` to read the next.
        """
        if limit is not None and limit < 1:
            raise ValidationError("A page of steps holds at least one step.")
        query = (
            select(ExecutionLog)
            .where(ExecutionLog.execution_id == execution_id, ExecutionLog.seq > after_seq)
            .order_by(ExecutionLog.seq)
            .limit(limit)
        )
        with self._uow.read() as session:
            _owned_execution(session, user_id, execution_id)
            return [ExecutionLogRecord.of(row) for row in session.scalars(query)]

    def runs_for_message(self, user_id: int, message_id: int) -> list[ExecutionRecord]:
        """Every run behind a message, oldest first (a retried message has several).

        For a reply, the runs of the message that asked for it, so a retried exchange
        shows its old runs too; a message that started no run has none.
        """
        with self._uow.read() as session:
            message = owned_message(session, user_id, message_id)
            trigger: Message | None = message if message.role == Role.USER else None
            if trigger is None and message.execution_id is not None:
                trigger = _trigger_of(session, message.execution_id) or _retried_trigger(
                    session, message
                )
            ids: list[int] = []
            if trigger is not None:
                ids.extend((trigger.meta or {}).get(EARLIER_RUNS_KEY, []))
            source = trigger if trigger is not None else message
            if source.execution_id is not None:
                ids.append(source.execution_id)
            if message.execution_id is not None and message.execution_id not in ids:
                ids.append(message.execution_id)
            rows = session.scalars(
                select(Execution)
                .where(Execution.id.in_(ids), Execution.thread_id == message.thread_id)
                .order_by(Execution.id)
            )
            return [ExecutionRecord.of(row) for row in rows]

    def start(self, user_id: int, execution_id: int, *, history_limit: int = 200) -> RunStart:
        """pending -> running; the trigger becomes processing; an empty reply appears."""
        with self._uow.write() as (session, changes):
            execution, thread = _owned_execution(session, user_id, execution_id)
            hold(session, execution.id, self._uow.owner)
            _move_execution(execution, ExecutionStatus.RUNNING)
            execution.started_at = utcnow()
            claim(session, execution, self._uow.owner)
            trigger = _required_trigger(session, execution.id)
            old_status = MessageStatus(trigger.status)
            _move_message(trigger, MessageStatus.PROCESSING)
            reply = Message(
                thread_id=thread.id,
                user_id=thread.user_id,
                role=Role.ASSISTANT,
                content="",
                status=MessageStatus.PROCESSING,
                execution_id=execution.id,
                meta={},
                parent_id=trigger.id,
            )
            session.add(reply)
            thread.updated_at = utcnow()
            session.flush()
            _place_reply(session, thread, trigger, reply)
            history_rows = [
                row
                for row in tree.load(
                    session,
                    tree.ids_up(session, thread.id, trigger.parent_id, history_limit)
                    if trigger.parent_id is not None
                    else [],
                )
                if row.status == MessageStatus.COMPLETED
            ]
            result = RunStart(
                execution=ExecutionRecord.of(execution),
                trigger=MessageRecord.of(trigger),
                reply=MessageRecord.of(reply),
                history=[MessageRecord.of(row) for row in history_rows],
                system_prompt=thread.system_prompt,
            )
            changes.append(
                execution_change(
                    ChangeKind.STATUS_CHANGED,
                    result.execution,
                    user_id,
                    {"status": ExecutionStatus.RUNNING, "old_status": ExecutionStatus.PENDING},
                )
            )
            changes.append(_status_change(result.trigger, old_status))
            changes.append(_message_change(ChangeKind.CREATED, result.reply))
        return result

    def append_logs(
        self, user_id: int, execution_id: int, entries: Sequence[LogEntry]
    ) -> list[ExecutionLogRecord]:
        """Append steps after the last one kept, numbering them on (``seq``)."""
        if not entries:
            return []
        with self._uow.write() as (session, changes):
            execution, _thread = _owned_execution(session, user_id, execution_id)
            hold(session, execution.id, self._uow.owner)
            last = session.scalar(
                select(func.max(ExecutionLog.seq)).where(ExecutionLog.execution_id == execution.id)
            )
            next_seq = -1 if last is None else last
            rows = []
            for entry in entries:
                next_seq += 1
                rows.append(
                    ExecutionLog(
                        execution_id=execution.id,
                        seq=next_seq,
                        event=entry.event[:100],
                        agent_role=redact(entry.agent_role)[:200] if entry.agent_role else None,
                        task_name=redact(entry.task_name)[:500] if entry.task_name else None,
                        detail=redact_data(dict(entry.detail)),
                    )
                )
            session.add_all(rows)
            session.flush()
            records = [ExecutionLogRecord.of(row) for row in rows]
            changes.extend(
                Change(
                    ChangeKind.CREATED,
                    Entity.EXECUTION_LOG,
                    record.id,
                    execution.thread_id,
                    user_id,
                    {"execution_id": execution.id, "seq": record.seq},
                    record,
                )
                for record in records
            )
        return records

    def save_text(self, user_id: int, reply_id: int, text: str) -> None:
        """Save a streaming reply's text so far (no event: the UI already shows it).

        Renews the run's lease; ``LeaseLostError`` when another client took it over.
        """
        content = redact_known(clean_content(text, Role.ASSISTANT))
        with self._uow.write() as (session, _changes):
            reply = session.get(Message, reply_id)
            if reply is None:
                raise NotFoundError(f"Message {reply_id} does not exist.")
            if reply.user_id != user_id:
                raise PermissionDeniedError(f"Message {reply_id} belongs to another user.")
            if reply.execution_id is not None:
                hold(session, reply.execution_id, self._uow.owner)
            reply.content = content
            # other desktops follow the reply at this cadence (this one shows it live)
            note(
                session,
                Change(ChangeKind.UPDATED, Entity.MESSAGE, reply.id, reply.thread_id, user_id),
            )

    def renew_leases(self, execution_ids: Collection[int]) -> set[int]:
        """Keep this client's claim on runs it holds; the ids another client took over.

        Called every ``RENEW_EVERY_S`` for runs that may save nothing for a while (a
        queued run, a crew thinking without streaming).
        """
        with self._uow.write() as (session, _changes):
            return renew(session, execution_ids, self._uow.owner)

    def finish(
        self,
        user_id: int,
        execution_id: int,
        status: ExecutionStatus,
        *,
        text: str | None = None,
        error: str | None = None,
        model: str | None = None,
        tokens: Tokens | None = None,
        tool_calls: Sequence[ToolCallSummary] = (),
        notes: Sequence[str] = (),
    ) -> ExecutionRecord:
        """End a run: the execution, its trigger and its reply move together.

        ``text`` is the reply's final (or, on failure and cancel, partial) text; when
        None the text saved so far is kept. ``tool_calls`` (the run's calls, in order)
        are kept on the reply as its ``tools`` metadata: the bubble shows them without
        reading the run's steps. ``notes`` (what the model could not be given, such as
        images a text-only model never saw) join the reply's ``notes``, drawn under it.
        """
        status = ExecutionStatus(status)
        if status not in _MESSAGE_END:
            raise ValidationError(f"A run cannot finish as {status}.")
        error = redact(error) if error else error
        text = redact_known(text) if isinstance(text, str) else text
        with self._uow.write() as (session, changes):
            execution, _thread = _owned_execution(session, user_id, execution_id)
            hold(session, execution.id, self._uow.owner)
            old = ExecutionStatus(execution.status)
            _move_execution(execution, status)
            execution.finished_at = utcnow()
            execution.error = error
            if model:
                execution.model = model
            if tokens is not None:
                execution.prompt_tokens = tokens.prompt
                execution.completion_tokens = tokens.completion
                execution.total_tokens = tokens.total
            reply = _reply_of(session, execution.id)
            if status is ExecutionStatus.COMPLETED:
                execution.result = text if text is not None else (reply.content if reply else "")
            if reply is not None and tool_calls:
                reply.meta = {
                    **(reply.meta or {}),
                    TOOLS_KEY: [call.as_dict() for call in tool_calls[:MAX_TOOL_SUMMARIES]],
                }
            if reply is not None and notes:
                meta = reply.meta or {}
                kept = [n for n in meta.get(NOTES_KEY, []) if isinstance(n, str)]
                reply.meta = {**meta, NOTES_KEY: [*kept, *(n for n in notes if n not in kept)]}
            changes.extend(self._end_messages(session, execution, status, text, error, reply))
            session.flush()
            record = ExecutionRecord.of(execution)
            changes.insert(
                0,
                execution_change(
                    ChangeKind.STATUS_CHANGED,
                    record,
                    user_id,
                    {"status": status, "old_status": old, "error": error},
                ),
            )
        return record

    def announce(self, user_id: int, execution_id: int) -> ExecutionRecord:
        """Publish a run's status, and its messages', as the database holds them now.

        For a client whose run another client took over: that client wrote the end,
        so this one's window hears of it only through this.
        """
        with self._uow.read() as session:
            execution, _thread = _owned_execution(session, user_id, execution_id)
            record = ExecutionRecord.of(execution)
            changes = [
                execution_change(
                    ChangeKind.STATUS_CHANGED,
                    record,
                    user_id,
                    {"status": record.status, "old_status": ExecutionStatus.RUNNING},
                )
            ]
            for message in (_trigger_of(session, execution.id), _reply_of(session, execution.id)):
                if message is not None:
                    changes.append(
                        _status_change(MessageRecord.of(message), MessageStatus.PROCESSING)
                    )
        self._uow.bus.publish(changes)
        return record

    def recover_interrupted(self) -> int:
        """Fail every run a crash left pending or running, keeping its partial text.

        Only runs no live client holds (``leases.orphaned``): another client sharing the
        database keeps its runs. Called once at start-up, before this client starts a
        run; returns how many were recovered.
        """
        return self._recover(others_only=False)

    def recover_expired(self) -> int:
        """Fail the runs of other clients that are gone or whose lease ran out (a desktop
        that crashed or froze), keeping their partial text; never this client's own.

        Called every ``SWEEP_EVERY_S`` while the app runs, so a reply another desktop
        left behind does not stay "processing" until somebody restarts. Reads first and
        writes only when there is such a run: the sweep of a quiet database writes
        nothing. Returns how many were recovered.
        """
        owner = self._uow.owner
        with self._uow.read() as session:
            now = database_now(session)
            others = session.scalars(
                select(Execution).where(
                    Execution.status.in_(LIVE), Execution.owner != str(owner)
                )  # a run with no owner is older than owners: start-up recovers it
            ).all()
            stale = any(orphaned(execution, now, owner) for execution in others)
        if not stale:
            return 0
        return self._recover(others_only=True)

    def _recover(self, *, others_only: bool) -> int:
        owner = self._uow.owner
        with self._uow.write() as (session, changes):
            now = database_now(session)
            live = session.scalars(
                select(Execution).where(Execution.status.in_(LIVE)).order_by(Execution.id)
            ).all()
            stuck = [
                execution
                for execution in live
                if not (others_only and execution.owner in (None, str(owner)))
                and orphaned(execution, now, owner)
                and take_over(session, execution, owner)
            ]
            for execution in stuck:
                execution.status = ExecutionStatus.FAILED
                execution.error = INTERRUPTED_ERROR
                execution.finished_at = utcnow()
                reply = _reply_of(session, execution.id)
                changes.extend(
                    self._end_messages(
                        session,
                        execution,
                        ExecutionStatus.FAILED,
                        None,
                        INTERRUPTED_ERROR,
                        reply,
                        interrupted=True,
                    )
                )
            return len(stuck)

    @staticmethod
    def _end_messages(
        session: Session,
        execution: Execution,
        status: ExecutionStatus,
        text: str | None,
        error: str | None,
        reply: Message | None,
        *,
        interrupted: bool = False,
    ) -> list[Change]:
        changes: list[Change] = []
        end = _MESSAGE_END[status]
        trigger = _trigger_of(session, execution.id)
        if trigger is not None and trigger.status in (
            MessageStatus.PENDING,
            MessageStatus.PROCESSING,
        ):
            old = MessageStatus(trigger.status)
            _move_message(trigger, end)
            session.flush()
            changes.append(_status_change(MessageRecord.of(trigger), old))
        if reply is not None and reply.status == MessageStatus.PROCESSING:
            if text is not None:
                reply.content = clean_content(text, Role.ASSISTANT)
            meta = dict(reply.meta or {})
            if error:
                meta["error"] = error
            if interrupted:
                meta["interrupted"] = True
            reply.meta = meta
            _move_message(reply, end)
            session.flush()
            changes.append(_status_change(MessageRecord.of(reply), MessageStatus.PROCESSING))
        return changes


def _place_reply(session: Session, thread: Thread, trigger: Message, reply: Message) -> None:
    """Put a new reply where the person expects it: below the message it answers,
    chosen, ending the current path if that message did.

    Messages sent while the question waited for its run (queued in the same thread)
    were written below the question; they move below its reply, so the conversation
    reads question, answer, next question, as it was asked. (A question's children are
    otherwise replies: its versions are its siblings.)
    """
    tree.choose(session, reply)
    queued = session.scalars(
        select(Message).where(
            Message.thread_id == thread.id,
            Message.parent_id == trigger.id,
            Message.role == Role.USER,
        )
    ).all()
    for message in queued:
        message.parent_id = reply.id
    if thread.current_leaf_id in (None, trigger.id):
        thread.current_leaf_id = reply.id
    session.flush()


def _owned_execution(session: Session, user_id: int, execution_id: int) -> tuple[Execution, Thread]:
    row = session.execute(
        select(Execution, Thread)
        .join(Thread, Thread.id == Execution.thread_id)
        .where(Execution.id == execution_id)
    ).first()
    if row is None:
        raise NotFoundError(f"Execution {execution_id} does not exist.")
    execution, thread = row
    if thread.user_id != user_id:
        raise PermissionDeniedError(f"Execution {execution_id} belongs to another user.")
    return execution, thread


def _trigger_of(session: Session, execution_id: int) -> Message | None:
    return session.scalar(
        select(Message).where(Message.execution_id == execution_id, Message.role == Role.USER)
    )


def _retried_trigger(session: Session, reply: Message) -> Message | None:
    """The message whose earlier (since retried) run wrote ``reply``.

    A retry points the message at its new run and lists the old ones in its metadata;
    the candidates are few: earlier messages of the thread now on a newer run.
    """
    candidates = session.scalars(
        select(Message).where(
            Message.thread_id == reply.thread_id,
            Message.role == Role.USER,
            Message.id < reply.id,
            Message.execution_id > reply.execution_id,
        )
    )
    for candidate in candidates:
        if reply.execution_id in (candidate.meta or {}).get(EARLIER_RUNS_KEY, []):
            return candidate
    return None


def _required_trigger(session: Session, execution_id: int) -> Message:
    trigger = _trigger_of(session, execution_id)
    if trigger is None:
        raise NotFoundError(f"Execution {execution_id} has no message that asked for it.")
    return trigger


def _reply_of(session: Session, execution_id: int) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.execution_id == execution_id, Message.role == Role.ASSISTANT)
        .order_by(Message.id.desc())
        .limit(1)
    )


def _move_execution(execution: Execution, status: ExecutionStatus) -> None:
    check_transition(
        EXECUTION_TRANSITIONS, ExecutionStatus(execution.status), status, "run (execution)"
    )
    execution.status = status


def _move_message(message: Message, status: MessageStatus) -> None:
    check_transition(MESSAGE_TRANSITIONS, MessageStatus(message.status), status, "message")
    message.status = status


def _message_change(kind: ChangeKind, record: MessageRecord) -> Change:
    return Change(kind, Entity.MESSAGE, record.id, record.thread_id, record.user_id, {}, record)


def _status_change(record: MessageRecord, old: MessageStatus) -> Change:
    return Change(
        ChangeKind.STATUS_CHANGED,
        Entity.MESSAGE,
        record.id,
        record.thread_id,
        record.user_id,
        {"status": record.status, "old_status": old},
        record,
    )
