"""Use cases on messages: send (with its execution), read in pages, edit, status, delete.

Size limits (documented in the README): a message a person writes holds at most
``MAX_USER_CONTENT_CHARS`` characters after trimming; a reply or system text at most
``MAX_CONTENT_CHARS``. Replies are kept exactly as the model sent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatdesk.services.errors import IllegalTransitionError, ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.leases import claim
from chatdesk.services.records import ExecutionRecord, MessageRecord
from chatdesk.services.run_owner import RunOwner
from chatdesk.services.transitions import MESSAGE_TRANSITIONS, RERUN_FROM, check_transition
from chatdesk.services.unit_of_work import UnitOfWork, owned_message, owned_thread
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, Message, Thread
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role

MAX_USER_CONTENT_CHARS = 100_000
MAX_CONTENT_CHARS = 4_000_000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1_000
SUPERSEDED = "superseded"
"""Metadata flag of a message replaced by Regenerate or Edit and resend: kept and shown,
but no longer part of what the model is told."""
EARLIER_RUNS_KEY = "earlier_executions"
"""Metadata key of a retried message: the ids of its earlier executions, oldest first."""


@dataclass(frozen=True)
class SendResult:
    """What ``send`` wrote: the message and, when it triggers one, its execution."""

    message: MessageRecord
    execution: ExecutionRecord | None


@dataclass(frozen=True)
class MessagePage:
    """Messages in ascending id order, and whether older (newer) ones exist around them.

    ``has_newer`` is only known for pages read with ``after_id`` or ``around``; a page
    of the newest messages has none newer.
    """

    messages: list[MessageRecord]
    has_older: bool
    has_newer: bool = False


def clean_content(content: str, role: Role) -> str:
    """Validate ``content`` for ``role``; what a person typed is trimmed, replies are not."""
    if not isinstance(content, str):
        raise ValidationError("Message content must be text.")
    if role is Role.ASSISTANT:
        if len(content) > MAX_CONTENT_CHARS:
            raise ValidationError(f"A reply can have at most {MAX_CONTENT_CHARS:,} characters.")
        return content
    cleaned = content.strip()
    if not cleaned:
        raise ValidationError("A message cannot be empty.")
    limit = MAX_USER_CONTENT_CHARS if role is Role.USER else MAX_CONTENT_CHARS
    if len(cleaned) > limit:
        raise ValidationError(
            f"This message has {len(cleaned):,} characters; the limit is {limit:,}."
        )
    return cleaned


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(f"Unknown role {role!r}; use user, assistant or system.") from None


class MessageService:
    """Messages of threads the acting user owns."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def send(
        self,
        user_id: int,
        thread_id: int,
        content: str,
        *,
        triggers_execution: bool = True,
        role: Role | str = Role.USER,
        metadata: dict[str, Any] | None = None,
    ) -> SendResult:
        """Write a message and, if it triggers one, its pending execution, atomically.

        A message that triggers an execution starts ``pending``; others are complete
        as written. The thread moves to the top of its user's list.
        """
        role = parse_role(role)
        text = clean_content(content, role)
        with self._uow.write() as (session, changes):
            return _write_message(
                session,
                changes,
                self._uow.owner,
                user_id,
                thread_id,
                text,
                role,
                triggers_execution,
                metadata,
            )

    def add_reply(
        self,
        user_id: int,
        thread_id: int,
        execution_id: int | None,
        content: str = "",
        status: MessageStatus = MessageStatus.PROCESSING,
    ) -> MessageRecord:
        """Create the assistant message an execution fills with its streamed text."""
        text = clean_content(content, Role.ASSISTANT)
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            message = Message(
                thread_id=thread.id,
                user_id=user_id,
                role=Role.ASSISTANT,
                content=text,
                status=status,
                execution_id=execution_id,
                meta={},
            )
            session.add(message)
            _touch(thread)
            session.flush()
            record = MessageRecord.of(message)
            changes.append(_message_change(ChangeKind.CREATED, record))
            changes.append(_thread_touched(thread))
        return record

    def get(self, user_id: int, message_id: int) -> MessageRecord:
        with self._uow.read() as session:
            return MessageRecord.of(owned_message(session, user_id, message_id))

    def list(
        self,
        user_id: int,
        thread_id: int,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        before_id: int | None = None,
        after_id: int | None = None,
    ) -> MessagePage:
        """A page by keyset: the newest ``limit`` messages older than ``before_id``, or
        with ``after_id`` the oldest ``limit`` messages newer than it."""
        _check_page_size(limit)
        if before_id is not None and after_id is not None:
            raise ValidationError("A page is read before one message or after one, not both.")
        with self._uow.read() as session:
            owned_thread(session, user_id, thread_id)
            if after_id is None:
                rows, has_older = _older(session, thread_id, before_id, limit)
                return MessagePage(rows, has_older, has_newer=False)
            rows, has_newer = _newer(session, thread_id, after_id, limit)
            return MessagePage(rows, has_older=True, has_newer=has_newer)

    def around(
        self, user_id: int, thread_id: int, message_id: int, *, limit: int = DEFAULT_PAGE_SIZE
    ) -> MessagePage:
        """The page centred on ``message_id``: ``limit`` messages up to and including it
        and ``limit`` after it, for opening a thread far back in its history."""
        _check_page_size(limit)
        with self._uow.read() as session:
            thread = owned_thread(session, user_id, thread_id)
            message = owned_message(session, user_id, message_id)
            if message.thread_id != thread.id:
                raise ValidationError(f"Message {message_id} is not in thread {thread_id}.")
            older, has_older = _older(session, thread_id, message_id + 1, limit)
            newer, has_newer = _newer(session, thread_id, message_id, limit)
        return MessagePage(older + newer, has_older, has_newer)

    def edit(self, user_id: int, message_id: int, content: str) -> MessageRecord:
        """Replace a message's text (a person's edit, or a reply's streamed text)."""
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            text = clean_content(content, Role(message.role))
            if text == message.content:
                return MessageRecord.of(message)
            message.content = text
            session.flush()
            record = MessageRecord.of(message)
            changes.append(_message_change(ChangeKind.UPDATED, record, {"content": text}))
        return record

    def set_status(self, user_id: int, message_id: int, status: MessageStatus) -> MessageRecord:
        """Move a message along its lifecycle; an illegal move raises."""
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            old = MessageStatus(message.status)
            check_transition(MESSAGE_TRANSITIONS, old, MessageStatus(status), "message")
            message.status = MessageStatus(status)
            session.flush()
            record = MessageRecord.of(message)
            changes.append(
                _message_change(
                    ChangeKind.STATUS_CHANGED, record, {"status": record.status, "old_status": old}
                )
            )
        return record

    def delete(self, user_id: int, message_id: int) -> None:
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            record = MessageRecord.of(message)
            session.delete(message)
            changes.append(
                Change(ChangeKind.DELETED, Entity.MESSAGE, record.id, record.thread_id, user_id)
            )

    def retry(self, user_id: int, message_id: int) -> SendResult:
        """Send a failed or cancelled message again: a new execution, the old one kept."""
        return self._rerun(user_id, message_id, regenerate=False)

    def regenerate(self, user_id: int, message_id: int) -> SendResult:
        """Ask again for the reply to the thread's last user message, whatever its end.

        A new execution answers it; the earlier run stays in the trace and its reply
        stays in the thread, marked superseded, so the model is not shown both answers.
        """
        return self._rerun(user_id, message_id, regenerate=True)

    def last_user_message(self, user_id: int, thread_id: int) -> MessageRecord | None:
        """The newest message the person wrote in the thread (what Regenerate answers)."""
        query = (
            select(Message)
            .where(Message.thread_id == thread_id, Message.role == Role.USER)
            .order_by(Message.id.desc())
            .limit(1)
        )
        with self._uow.read() as session:
            owned_thread(session, user_id, thread_id)
            row = session.scalar(query)
            return MessageRecord.of(row) if row is not None else None

    def resend_edited(self, user_id: int, message_id: int, content: str) -> SendResult:
        """Send an edited copy of a message as a new message at the end of its thread.

        The original stays as it was. When it is the thread's last user message and its
        run has ended, it and its replies are marked superseded, so the model answers
        the edited question as if it replaced the old one (nothing is deleted).
        """
        with self._uow.read() as session:
            source = owned_message(session, user_id, message_id)
            if source.role != Role.USER:
                raise ValidationError("Only a message you wrote can be edited and sent again.")
            thread_id = source.thread_id
        last = self.last_user_message(user_id, thread_id)
        supersede = last is not None and last.id == message_id and last.status in RERUN_FROM
        text = clean_content(content, Role.USER)
        with self._uow.write() as (session, changes):
            source = owned_message(session, user_id, message_id)
            if supersede and MessageStatus(source.status) in RERUN_FROM:
                changes.extend(_supersede(session, source, include_self=True))
            return _write_message(
                session,
                changes,
                self._uow.owner,
                user_id,
                thread_id,
                text,
                Role.USER,
                True,
                {"edited_from": source.id},
            )

    def _rerun(self, user_id: int, message_id: int, *, regenerate: bool) -> SendResult:
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            if message.role != Role.USER or not message.triggers_execution:
                raise ValidationError("Only a message that asked for a reply can be retried.")
            old = MessageStatus(message.status)
            if not regenerate:
                check_transition(MESSAGE_TRANSITIONS, old, MessageStatus.PENDING, "message")
            elif old not in RERUN_FROM:
                raise IllegalTransitionError(
                    "This reply is still being written; stop it before regenerating."
                )
            thread = owned_thread(session, user_id, message.thread_id)
            if regenerate:
                newest = session.scalar(
                    select(func.max(Message.id)).where(
                        Message.thread_id == thread.id, Message.role == Role.USER
                    )
                )
                if newest != message.id:
                    raise ValidationError("Only the reply to your last message can be regenerated.")
                changes.extend(_supersede(session, message, include_self=False))
            execution = _new_execution(session, thread, self._uow.owner)
            if message.execution_id is not None:  # the trace keeps showing the old run
                meta = dict(message.meta or {})
                meta[EARLIER_RUNS_KEY] = [*meta.get(EARLIER_RUNS_KEY, []), message.execution_id]
                message.meta = meta
            message.status = MessageStatus.PENDING
            message.execution_id = execution.id
            _touch(thread)
            session.flush()
            result = SendResult(MessageRecord.of(message), ExecutionRecord.of(execution))
            changes.append(
                _message_change(
                    ChangeKind.STATUS_CHANGED,
                    result.message,
                    {"status": MessageStatus.PENDING, "old_status": old},
                )
            )
            assert result.execution is not None
            changes.append(execution_change(ChangeKind.CREATED, result.execution, user_id))
            changes.append(_thread_touched(thread))
        return result


def _new_execution(session: Session, thread: Thread, owner: RunOwner) -> Execution:
    """A pending run of the thread's crew and model (its id assigned), owned by ``owner``."""
    execution = Execution(
        thread_id=thread.id, crew=thread.crew, model=thread.model, status=ExecutionStatus.PENDING
    )
    claim(session, execution, owner)
    session.add(execution)
    session.flush()
    return execution


def _write_message(
    session: Session,
    changes: list[Change],
    owner: RunOwner,
    user_id: int,
    thread_id: int,
    text: str,
    role: Role,
    triggers_execution: bool,
    metadata: dict[str, Any] | None,
) -> SendResult:
    """The body of ``send``, inside a caller's transaction."""
    thread = owned_thread(session, user_id, thread_id)
    execution = _new_execution(session, thread, owner) if triggers_execution else None
    message = Message(
        thread_id=thread.id,
        user_id=user_id,
        role=role,
        content=text,
        status=MessageStatus.PENDING if triggers_execution else MessageStatus.COMPLETED,
        triggers_execution=triggers_execution,
        execution_id=execution.id if execution else None,
        meta=dict(metadata or {}),
    )
    session.add(message)
    _touch(thread)
    session.flush()
    result = SendResult(
        MessageRecord.of(message), ExecutionRecord.of(execution) if execution else None
    )
    changes.append(_message_change(ChangeKind.CREATED, result.message))
    if result.execution is not None:
        changes.append(execution_change(ChangeKind.CREATED, result.execution, user_id))
    changes.append(_thread_touched(thread))
    return result


def _supersede(session: Session, trigger: Message, *, include_self: bool) -> list[Change]:
    """Mark the replies of ``trigger``'s current run (and it, if asked) superseded."""
    rows: list[Message] = [trigger] if include_self else []
    if trigger.execution_id is not None:
        rows += session.scalars(
            select(Message).where(
                Message.execution_id == trigger.execution_id, Message.role == Role.ASSISTANT
            )
        ).all()
    changes = []
    for row in rows:
        if (row.meta or {}).get(SUPERSEDED):
            continue
        row.meta = {**(row.meta or {}), SUPERSEDED: True}
        session.flush()
        record = MessageRecord.of(row)
        changes.append(_message_change(ChangeKind.UPDATED, record, {"metadata": record.metadata}))
    return changes


def _check_page_size(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError(f"A page holds 1 to {MAX_PAGE_SIZE} messages.")


def _older(
    session: Session, thread_id: int, before_id: int | None, limit: int
) -> tuple[list[MessageRecord], bool]:
    """Up to ``limit`` messages before ``before_id`` (ascending), and whether more exist."""
    query = select(Message).where(Message.thread_id == thread_id)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = list(session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)))
    return [MessageRecord.of(row) for row in reversed(rows[:limit])], len(rows) > limit


def _newer(
    session: Session, thread_id: int, after_id: int, limit: int
) -> tuple[list[MessageRecord], bool]:
    """Up to ``limit`` messages after ``after_id`` (ascending), and whether more exist."""
    query = select(Message).where(Message.thread_id == thread_id, Message.id > after_id)
    rows = list(session.scalars(query.order_by(Message.id).limit(limit + 1)))
    return [MessageRecord.of(row) for row in rows[:limit]], len(rows) > limit


def _touch(thread: Thread) -> None:
    """Move the thread to the top of its user's list (the application keeps updated_at)."""
    thread.updated_at = utcnow()


def _thread_touched(thread: Thread) -> Change:
    from chatdesk.services.records import ThreadRecord

    record = ThreadRecord.of(thread)
    return Change(
        ChangeKind.UPDATED,
        Entity.THREAD,
        record.id,
        record.id,
        record.user_id,
        {"updated_at": record.updated_at},
        record,
    )


def _message_change(
    kind: ChangeKind, record: MessageRecord, fields: dict[str, Any] | None = None
) -> Change:
    return Change(
        kind, Entity.MESSAGE, record.id, record.thread_id, record.user_id, fields or {}, record
    )


def execution_change(
    kind: ChangeKind, record: ExecutionRecord, user_id: int, fields: dict[str, Any] | None = None
) -> Change:
    return Change(
        kind, Entity.EXECUTION, record.id, record.thread_id, user_id, fields or {}, record
    )
