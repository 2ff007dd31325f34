"""The status vocabulary every layer shares: roles, statuses and the sets built from them.

Why a module of its own: the store CHECK-constrains these values, the services move
records through them, the window paints them and the worker's runs end in them. Kept
free of SQLAlchemy and Qt so each layer imports it without importing another layer;
each set is defined here once, not again where it is used.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who wrote a message."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class MessageStatus(StrEnum):
    """Lifecycle of a message (see ``chatdesk.services.transitions``)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExecutionStatus(StrEnum):
    """Lifecycle of a crew run."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_MESSAGE_STATUSES: frozenset[MessageStatus] = frozenset(
    {MessageStatus.PENDING, MessageStatus.PROCESSING}
)
"""A message whose run has not ended yet: its text may still grow."""

RETRYABLE_MESSAGE_STATUSES: frozenset[MessageStatus] = frozenset(
    {MessageStatus.FAILED, MessageStatus.CANCELLED}
)
"""A message whose run ended without an answer: the bubble offers Retry."""

ACTIVE_EXECUTION_STATUSES: frozenset[ExecutionStatus] = frozenset(
    {ExecutionStatus.PENDING, ExecutionStatus.RUNNING}
)
"""A run not yet ended: a crash leaves these behind, recovery fails them."""


_STATUS_WORDS: dict[str, str] = {
    MessageStatus.PENDING: "waiting",
    MessageStatus.PROCESSING: "in progress",
    MessageStatus.COMPLETED: "completed",
    MessageStatus.FAILED: "failed",
    MessageStatus.CANCELLED: "stopped",
    ExecutionStatus.RUNNING: "running",
}


def status_word(status: MessageStatus | ExecutionStatus) -> str:
    """A status as a person reads it, the same in the window, Run details and exports
    (``cancelled`` is "stopped", as the Stop button that causes it says)."""
    return _STATUS_WORDS.get(status, status.value)


class ToolRule(StrEnum):
    """What a chat says about one tool or server (``server`` or ``server/tool``)."""

    DISABLED = "disabled"  # switched off in this chat's header
    APPROVED = "approved"  # "Allow for this chat": runs without asking


class ApprovalDecision(StrEnum):
    """The person's answer to a tool call that asked first."""

    ONCE = "once"
    CHAT = "chat"  # this tool, for the rest of this chat
    DENY = "deny"


class AttachmentKind(StrEnum):
    """What an attached file is, told from its bytes (never from its name)."""

    IMAGE = "image"  # PNG, JPEG, GIF, WebP
    PDF = "pdf"
    DOCX = "docx"
    TEXT = "text"  # UTF-8 without NULs: plain text, Markdown, CSV, code
