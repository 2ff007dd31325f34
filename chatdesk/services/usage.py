"""What a chat's runs used, and how much history its next run would carry.

Why its own service: the chat header shows a chat's total tokens (and from them, with
the price table, its cost) and how full the next run's context will be. Both are read
when a chat opens and when a run ends, never per streamed token, and both are bounded:
the totals are one grouped sum over the chat's runs (``executions.thread_id`` is
indexed), the history at most ``HISTORY_LIMIT`` messages up the current path (what
``ExecutionService.start`` hands a run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatdesk.services import message_tree as tree
from chatdesk.services.records import RunTokens
from chatdesk.services.unit_of_work import UnitOfWork, owned_thread
from chatdesk.store.models import Execution, Message
from chatdesk.vocabulary import MessageStatus

HISTORY_LIMIT = 200
"""Messages a run is given at most (``ExecutionService.start``'s ``history_limit``)."""
_LABELS = {"user": len("User: "), "assistant": len("Assistant: "), "system": len("System: ")}
BLOCK_GAP = 2
"""The blank line between two messages of the history text (``engine.history``)."""


@dataclass(frozen=True)
class ModelTotals:
    """One model's share of a chat's runs: tokens in and out, and how many runs."""

    model: str | None
    prompt_tokens: int
    completion_tokens: int
    runs: int


@dataclass(frozen=True)
class HistorySize:
    """The history text the next run would get before any trimming: its characters
    (counted as ``engine.history.format_history`` counts them) and messages."""

    chars: int
    messages: int


def run_tokens(session: Session, execution_ids: Sequence[int | None]) -> dict[int, RunTokens]:
    """Each run's model and tokens, read at once for a page of replies."""
    ids = sorted({i for i in execution_ids if i is not None})
    if not ids:
        return {}
    rows = session.execute(
        select(
            Execution.id, Execution.model, Execution.prompt_tokens, Execution.completion_tokens
        ).where(Execution.id.in_(ids))
    )
    return {row.id: RunTokens(row.model, row.prompt_tokens, row.completion_tokens) for row in rows}


class UsageService:
    """Read-only: a chat's token totals and the size of its next run's history."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def totals(self, user_id: int, thread_id: int) -> list[ModelTotals]:
        """The chat's tokens by model, over every run it had (every branch: each cost)."""
        with self._uow.read() as session:
            thread = owned_thread(session, user_id, thread_id)
            rows = session.execute(
                select(
                    Execution.model,
                    func.coalesce(func.sum(Execution.prompt_tokens), 0),
                    func.coalesce(func.sum(Execution.completion_tokens), 0),
                    func.count(),
                )
                .where(Execution.thread_id == thread.id)
                .group_by(Execution.model)
            ).all()
        return [ModelTotals(model, int(p or 0), int(c or 0), int(n)) for model, p, c, n in rows]

    def history_size(
        self, user_id: int, thread_id: int, *, limit: int = HISTORY_LIMIT
    ) -> HistorySize:
        """What the path shown, up to its end, weighs as the next run's history (its
        completed messages, as ``ExecutionService.start`` hands them to a run)."""
        with self._uow.read() as session:
            thread = owned_thread(session, user_id, thread_id)
            leaf = tree.current_leaf(session, thread)
            if leaf is None:
                return HistorySize(0, 0)
            ids = tree.ids_up(session, thread.id, leaf, limit)
            rows = session.execute(
                select(Message.role, func.length(func.trim(Message.content))).where(
                    Message.id.in_(ids), Message.status == MessageStatus.COMPLETED
                )
            ).all()
        sizes = [_LABELS.get(role, len(role) + 2) + n for role, n in rows if n]
        chars = sum(sizes) + BLOCK_GAP * max(len(sizes) - 1, 0)
        return HistorySize(chars, len(sizes))
