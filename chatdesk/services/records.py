"""Plain, immutable copies of rows handed to callers, so no caller ever holds a Session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatdesk.store.models import Attachment, Execution, ExecutionLog, Message, Thread
from chatdesk.vocabulary import AttachmentKind, ExecutionStatus, MessageStatus, Role


@dataclass(frozen=True)
class Version:
    """Where a message stands among its siblings (its versions): ``index`` of ``count``,
    counting from 1, oldest first."""

    index: int
    count: int


@dataclass(frozen=True)
class ThreadRecord:
    id: int
    user_id: int
    title: str
    crew: str
    model: str | None
    system_prompt: str | None
    pinned: bool
    draft: str
    created_at: datetime
    updated_at: datetime
    current_leaf_id: int | None = None

    @classmethod
    def of(cls, row: Thread) -> ThreadRecord:
        return cls(
            id=row.id,
            user_id=row.user_id,
            title=row.title,
            crew=row.crew,
            model=row.model,
            system_prompt=row.system_prompt,
            pinned=row.pinned,
            draft=row.draft,
            created_at=row.created_at,
            updated_at=row.updated_at,
            current_leaf_id=row.current_leaf_id,
        )


@dataclass(frozen=True)
class AttachmentRecord:
    """A file attached (or being attached) to a message, as the window shows it.

    ``file_name`` is what the person called it (the same file may carry other names on
    other messages); ``width``/``height`` are an image's, else None.
    """

    id: int
    file_name: str
    mime_type: str
    size_bytes: int
    kind: AttachmentKind
    sha256: str
    width: int | None = None
    height: int | None = None

    @classmethod
    def of(cls, row: Attachment, file_name: str) -> AttachmentRecord:
        return cls(
            id=row.id,
            file_name=file_name,
            mime_type=row.mime_type,
            size_bytes=row.size_bytes,
            kind=AttachmentKind(row.kind),
            sha256=row.sha256,
            width=row.width,
            height=row.height,
        )


@dataclass(frozen=True)
class RunTokens:
    """What a reply's run reported using: its model and its tokens in and out (None:
    not reported, such as a run still going)."""

    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True)
class MessageRecord:
    id: int
    thread_id: int
    user_id: int
    role: Role
    content: str
    status: MessageStatus
    triggers_execution: bool
    execution_id: int | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    parent_id: int | None = None
    version: Version | None = None
    """Its place among its siblings, when the reader asked (pages do); None: not read."""
    attachments: tuple[AttachmentRecord, ...] = ()
    """Its files in order (pages, ``get`` and ``send`` read them; other records: none)."""
    run_tokens: RunTokens | None = None
    """A reply's run's tokens, read with pages and ``get`` (other records: None)."""

    @classmethod
    def of(
        cls,
        row: Message,
        version: Version | None = None,
        attachments: tuple[AttachmentRecord, ...] = (),
        run_tokens: RunTokens | None = None,
    ) -> MessageRecord:
        return cls(
            id=row.id,
            thread_id=row.thread_id,
            user_id=row.user_id,
            role=Role(row.role),
            content=row.content,
            status=MessageStatus(row.status),
            triggers_execution=row.triggers_execution,
            execution_id=row.execution_id,
            metadata=dict(row.meta or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
            parent_id=row.parent_id,
            version=version,
            attachments=attachments,
            run_tokens=run_tokens,
        )


@dataclass(frozen=True)
class ExecutionRecord:
    id: int
    thread_id: int
    crew: str
    status: ExecutionStatus
    model: str | None
    started_at: datetime | None
    finished_at: datetime | None
    result: str | None
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: Execution) -> ExecutionRecord:
        return cls(
            id=row.id,
            thread_id=row.thread_id,
            crew=row.crew,
            status=ExecutionStatus(row.status),
            model=row.model,
            started_at=row.started_at,
            finished_at=row.finished_at,
            result=row.result,
            error=row.error,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            total_tokens=row.total_tokens,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class ExecutionLogRecord:
    id: int
    execution_id: int
    seq: int
    created_at: datetime
    event: str
    agent_role: str | None
    task_name: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: ExecutionLog) -> ExecutionLogRecord:
        return cls(
            id=row.id,
            execution_id=row.execution_id,
            seq=row.seq,
            created_at=row.created_at,
            event=row.event,
            agent_role=row.agent_role,
            task_name=row.task_name,
            detail=dict(row.detail or {}),
        )
