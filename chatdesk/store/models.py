"""The tables of the local store: users, threads, messages, executions, execution logs.

Integrity lives in the database, not only in Python: enumerations are CHECK-constrained,
a message points at its thread through the composite key (thread id, user id) so it can
neither be orphaned nor carry another user's id, and deleting a thread cascades to its
messages, executions and their logs.

A thread's messages form a tree: each points at its parent through the composite key
(parent id, thread id, user id), so a parent is always a message of the same thread and
user and never goes while it has children (the services delete a branch in one
statement; an ON DELETE CASCADE would recurse once per level, and SQLite stops at 1,000).
Siblings are versions; the thread's ``current_leaf_id`` ends the path the person sees.

Attached files are stored once per content (``attachments``, by SHA-256) and linked to
the messages that carry them (``message_attachments``, deleted with the message); an
attachment no message links yet is held by the person who added it
(``attachment_holds``), so nobody else can use it and the sweep leaves it for a while.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chatdesk.store.base import Base, ExactText, UTCDateTime, utcnow
from chatdesk.vocabulary import AttachmentKind, ExecutionStatus, MessageStatus, Role, ToolRule

CURRENT_TIMESTAMP = text("CURRENT_TIMESTAMP")
"""Server-side fallback, so rows written by raw SQL get timestamps too."""


def _enum_column_type(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable VARCHAR + CHECK constraint holding the enum's values (not its names)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


def _created_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, server_default=CURRENT_TIMESTAMP)


def _updated_at() -> Mapped[datetime]:
    return mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=CURRENT_TIMESTAMP
    )


class User(Base):
    """A local person; every thread belongs to exactly one."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = _created_at()


class Thread(Base):
    """A conversation. ``updated_at`` moves whenever a message is added to it."""

    __tablename__ = "threads"
    __table_args__ = (
        UniqueConstraint("id", "user_id"),
        Index("ix_threads_user_id_updated_at", "user_id", "updated_at"),
        Index("ix_threads_user_id_pinned_updated_at_id", "user_id", "pinned", "updated_at", "id"),
        Index("ix_threads_user_id_imported_from", "user_id", "imported_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    crew: Mapped[str] = mapped_column(String(100), default="assistant", server_default="assistant")
    model: Mapped[str | None] = mapped_column(String(200))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    draft: Mapped[str] = mapped_column(Text, default="", server_default="")
    current_leaf_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL", use_alter=True)
    )
    """The last message of the path shown (and told to the model); NULL when empty."""
    imported_from: Mapped[str | None] = mapped_column(String(300))
    """The conversation this chat was imported from (``chatgpt:<id>``); NULL if made here."""
    model_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    """The chat's model settings (``chatdesk.model_params``, set values only); NULL: none."""
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=CURRENT_TIMESTAMP
    )

    messages: Mapped[list[Message]] = relationship(
        back_populates="thread",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Message.id",
        overlaps="messages",
        foreign_keys="[Message.thread_id, Message.user_id]",
    )
    executions: Mapped[list[Execution]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", passive_deletes=True
    )
    tool_rules: Mapped[list[ThreadToolRule]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class ThreadToolRule(Base):
    """A chat's word about one tool or server: switched off, or allowed without asking.

    ``tool`` is ``server`` or ``server/tool`` as mcp.json names them. Kept with the chat
    (deleted with it), so an approval given in one chat never carries to another.
    """

    __tablename__ = "thread_tool_rules"
    __table_args__ = (UniqueConstraint("thread_id", "tool", "rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    tool: Mapped[str] = mapped_column(String(300))
    rule: Mapped[ToolRule] = mapped_column(_enum_column_type(ToolRule, "rule"))
    created_at: Mapped[datetime] = _created_at()


class Execution(Base):
    """One crew run answering a user message; kept for offline browsing.

    ``owner`` is the client process running it and ``lease_expires_at`` (the database's
    clock) how long that claim lasts unless renewed: recovery takes over a run only when
    its lease ran out or its owner is provably gone (``chatdesk.services.leases``).
    """

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_status_lease_expires_at", "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    crew: Mapped[str] = mapped_column(String(100))
    status: Mapped[ExecutionStatus] = mapped_column(
        _enum_column_type(ExecutionStatus, "status"), default=ExecutionStatus.PENDING
    )
    model: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(ExactText())
    error: Mapped[str | None] = mapped_column(ExactText())
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(300))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created_at()

    thread: Mapped[Thread] = relationship(back_populates="executions")
    logs: Mapped[list[ExecutionLog]] = relationship(
        back_populates="execution",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ExecutionLog.seq",
    )


class Message(Base):
    """One bubble of a thread, a node of its tree.

    ``parent_id`` is the message it follows (NULL for a first message); messages with
    the same parent are versions of each other, and the one ``chosen_at`` last is the
    one the path follows below their parent.
    """

    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["thread_id", "user_id"], ["threads.id", "threads.user_id"], ondelete="CASCADE"
        ),
        UniqueConstraint("id", "thread_id", "user_id"),
        ForeignKeyConstraint(
            ["parent_id", "thread_id", "user_id"],
            ["messages.id", "messages.thread_id", "messages.user_id"],
        ),
        Index("ix_messages_thread_id_id", "thread_id", "id"),
        Index("ix_messages_thread_id_parent_id", "thread_id", "parent_id", "chosen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[Role] = mapped_column(_enum_column_type(Role, "role"))
    content: Mapped[str] = mapped_column(ExactText())
    status: Mapped[MessageStatus] = mapped_column(
        _enum_column_type(MessageStatus, "status"), default=MessageStatus.PENDING
    )
    triggers_execution: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL"), index=True
    )
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    parent_id: Mapped[int | None] = mapped_column(Integer)
    chosen_at: Mapped[datetime] = _created_at()
    """When this version was last chosen among its siblings (at first: when written)."""
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    thread: Mapped[Thread] = relationship(
        back_populates="messages",
        overlaps="messages",
        foreign_keys="[Message.thread_id, Message.user_id]",
    )
    execution: Mapped[Execution | None] = relationship()


class ExecutionLog(Base):
    """One CrewAI step of a run, in order (``seq``)."""

    __tablename__ = "execution_logs"
    __table_args__ = (UniqueConstraint("execution_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()
    event: Mapped[str] = mapped_column(String(100))
    agent_role: Mapped[str | None] = mapped_column(String(200))
    task_name: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    execution: Mapped[Execution] = relationship(back_populates="logs")


class Attachment(Base):
    """A file attached to messages, stored once under ``<data dir>/attachments`` by its
    SHA-256 (the same file attached twice is one row and one file).

    ``width``/``height`` are an image's, read from its header; NULL for other kinds.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    mime_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[AttachmentKind] = mapped_column(_enum_column_type(AttachmentKind, "kind"))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class MessageAttachment(Base):
    """A message carries an attachment at ``position``, under the name the person gave it.

    Deleted with its message (a cascade); an attachment is never deleted while a link
    to it remains (no cascade that way), so a message never loses its file.
    """

    __tablename__ = "message_attachments"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))


class ThreadKnowledge(Base):
    """A document a chat keeps as knowledge: used for every reply of the chat, not only
    for the message it came with.

    Deleted with its thread (a cascade); like a message's link, it keeps its attachment
    from being freed while it lasts.
    """

    __tablename__ = "thread_knowledge"

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id"), primary_key=True, index=True
    )
    file_name: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = _created_at()


class AttachmentHold(Base):
    """A person holds an attachment no message of theirs links yet: one they added and
    have not sent (or whose message they deleted, while Undo is offered).

    A hold is what lets them send it, and what keeps it from being freed; the sweep
    drops holds older than an hour.
    """

    __tablename__ = "attachment_holds"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = _created_at()


class Prompt(Base):
    """A saved prompt of one person: a name they pick it by and the text it inserts.

    The text may hold variables (``{{name}}``, ``{{name|default}}``) that are filled when
    it is inserted. Names are unique per person (the services also refuse names that
    differ only in case); deleted with the person.
    """

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(ExactText())
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()
