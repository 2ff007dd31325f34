"""The allowed status changes of messages and executions, in one place.

Messages: pending -> processing -> completed | failed | cancelled; a pending message may
also fail or be cancelled before its run starts (a crash, a Stop); failed and cancelled
go back to pending on Retry. Completed is final. Executions are never retried in place:
Retry creates a new execution, so their terminal states are final.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from chatdesk.services.errors import IllegalTransitionError
from chatdesk.vocabulary import ExecutionStatus, MessageStatus

M = MessageStatus
E = ExecutionStatus

RERUN_FROM: frozenset[MessageStatus] = frozenset({M.COMPLETED, M.FAILED, M.CANCELLED})
"""A user message whose run ended may be run again by Regenerate (a new execution, the
old one and its reply kept); ``set_status`` still treats completed as final."""

MESSAGE_TRANSITIONS: Mapping[MessageStatus, frozenset[MessageStatus]] = {
    M.PENDING: frozenset({M.PROCESSING, M.FAILED, M.CANCELLED}),
    M.PROCESSING: frozenset({M.COMPLETED, M.FAILED, M.CANCELLED}),
    M.COMPLETED: frozenset(),
    M.FAILED: frozenset({M.PENDING}),
    M.CANCELLED: frozenset({M.PENDING}),
}

EXECUTION_TRANSITIONS: Mapping[ExecutionStatus, frozenset[ExecutionStatus]] = {
    E.PENDING: frozenset({E.RUNNING, E.FAILED, E.CANCELLED}),
    E.RUNNING: frozenset({E.COMPLETED, E.FAILED, E.CANCELLED}),
    E.COMPLETED: frozenset(),
    E.FAILED: frozenset(),
    E.CANCELLED: frozenset(),
}

S = TypeVar("S", bound=StrEnum)


def check_transition(table: Mapping[S, frozenset[S]], old: S, new: S, what: str) -> None:
    """Raise ``IllegalTransitionError`` unless ``old -> new`` is allowed."""
    if new not in table[old]:
        allowed = ", ".join(sorted(table[old])) or "nothing (it is final)"
        raise IllegalTransitionError(
            f"A {what} cannot go from {old} to {new}; from {old} it can go to {allowed}."
        )


def is_terminal(status: MessageStatus | ExecutionStatus) -> bool:
    """True for completed, failed and cancelled."""
    return status.value in {"completed", "failed", "cancelled"}
