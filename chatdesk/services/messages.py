"""Use cases on messages: send (with its execution), read in pages, edit, status, delete.

Size limits (documented in the README): a message a person writes holds at most
``MAX_USER_CONTENT_CHARS`` characters after trimming; a reply or system text at most
``MAX_CONTENT_CHARS``. Replies are kept exactly as the model sent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatdesk.services.errors import ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.records import ExecutionRecord, MessageRecord
from chatdesk.services.transitions import MESSAGE_TRANSITIONS, check_transition
from chatdesk.services.unit_of_work import UnitOfWork, owned_message, owned_thread
from chatdesk.store.base import utcnow
from chatdesk.store.enums import ExecutionStatus, MessageStatus, Role
from chatdesk.store.models import Execution, Message, Thread

MAX_USER_CONTENT_CHARS = 100_000
MAX_CONTENT_CHARS = 4_000_000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1_000


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
            thread = owned_thread(session, user_id, thread_id)
            execution = None
            if triggers_execution:
                execution = Execution(
                    thread_id=thread.id,
                    crew=thread.crew,
                    model=thread.model,
                    status=ExecutionStatus.PENDING,
                )
                session.add(execution)
                session.flush()
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
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            if message.role != Role.USER or not message.triggers_execution:
                raise ValidationError("Only a message that asked for a reply can be retried.")
            old = MessageStatus(message.status)
            check_transition(MESSAGE_TRANSITIONS, old, MessageStatus.PENDING, "message")
            thread = owned_thread(session, user_id, message.thread_id)
            execution = Execution(
                thread_id=thread.id,
                crew=thread.crew,
                model=thread.model,
                status=ExecutionStatus.PENDING,
            )
            session.add(execution)
            session.flush()
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
