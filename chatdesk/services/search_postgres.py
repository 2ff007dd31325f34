"""Message search on PostgreSQL: the plan is chosen here, not left to the planner.

Why: a search is ``ORDER BY id DESC LIMIT n`` over rows matching a ``tsvector``. The
planner guesses that a word it has no statistics for (one that is rare or matches
nothing) still matches 0.5 % of messages, and then walks the primary key backwards,
computing ``to_tsvector`` for every message until it has ``n`` hits: for a word that
matches nothing that is the whole history (seconds on 200,000 messages). The GIN index
answers such a word in a millisecond, but for a word in every other message it would
fetch and sort half the table.

So the planner's own estimate of how many messages match (``EXPLAIN``, ~1 ms, taken
from the statistics of the index expression) picks the way, and the chosen plan is
forced for this transaction only (``set_config(..., true)``):

- fewer than ``DENSE_SHARE`` of the messages: the GIN index finds them all (few by
  that estimate), the newest ``n`` are kept, and only they get a snippet;
- more: the primary key backwards, with at least one hit in every
  ``1 / DENSE_SHARE`` messages on average, so ``n`` hits come after a few hundred rows.

One more case: a rare word beside a common last word, which matches as a prefix
("regex pyth"). GIN answers a prefix by gathering every message holding any word that
starts so (half the history for "pyth") before it can intersect, ~100 ms on a million
messages. When the prefix alone is common, the index is asked for the other words only
(exact words intersect fast), and the few messages they give are checked against the
whole query.

A table never analysed has no estimate: the GIN way, right for rare words and merely
slower (not seconds) for common ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.orm import Session

DENSE_SHARE = 0.02
"""Above this share of all messages matching, walking the newest messages is cheaper."""


def _snippet(highlight_start: str, highlight_end: str) -> str:
    return (
        "ts_headline('simple', left(m.content, 20000), to_tsquery('simple', :query), "
        f"'StartSel={highlight_start}, StopSel={highlight_end}, MaxWords=24, "
        "MinWords=8, MaxFragments=1, FragmentDelimiter=…')"
    )


_ESTIMATE = text(
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM messages "
    "WHERE to_tsvector('simple', content) @@ to_tsquery('simple', :query)"
)
_ROW_COUNT = text("SELECT reltuples FROM pg_class WHERE oid = 'messages'::regclass")


def _statements(
    highlight_start: str, highlight_end: str
) -> tuple[TextClause, TextClause, TextClause]:
    snippet = _snippet(highlight_start, highlight_end)
    sparse = text(
        f"""
        WITH hits AS MATERIALIZED (
            SELECT m.id FROM messages AS m
            WHERE to_tsvector('simple', m.content) @@ to_tsquery('simple', :query)
              AND m.user_id = :user_id AND m.id < :before_id
        )
        SELECT m.id, m.thread_id, t.title, m.role, m.created_at, {snippet}
        FROM (SELECT id FROM hits ORDER BY id DESC LIMIT :limit) AS newest
        JOIN messages AS m ON m.id = newest.id
        JOIN threads AS t ON t.id = m.thread_id
        ORDER BY m.id DESC
        """
    )
    rechecked = text(
        f"""
        WITH hits AS MATERIALIZED (
            SELECT m.id, m.content FROM messages AS m
            WHERE to_tsvector('simple', m.content) @@ to_tsquery('simple', :index_query)
              AND m.user_id = :user_id AND m.id < :before_id
        )
        SELECT m.id, m.thread_id, t.title, m.role, m.created_at, {snippet}
        FROM (
            SELECT id FROM hits
            WHERE to_tsvector('simple', hits.content) @@ to_tsquery('simple', :query)
            ORDER BY id DESC LIMIT :limit
        ) AS newest
        JOIN messages AS m ON m.id = newest.id
        JOIN threads AS t ON t.id = m.thread_id
        ORDER BY m.id DESC
        """
    )
    dense = text(
        f"""
        SELECT m.id, m.thread_id, t.title, m.role, m.created_at, {snippet}
        FROM messages AS m
        JOIN threads AS t ON t.id = m.thread_id
        WHERE to_tsvector('simple', m.content) @@ to_tsquery('simple', :query)
          AND m.user_id = :user_id AND m.id < :before_id
        ORDER BY m.id DESC
        LIMIT :limit
        """
    )
    return sparse, rechecked, dense


class PostgresSearch:
    """The statements, built once with the snippet's highlight marks."""

    def __init__(self, highlight_start: str, highlight_end: str) -> None:
        self._sparse, self._rechecked, self._dense = _statements(highlight_start, highlight_end)

    def rows(self, session: Session, params: dict[str, Any]) -> Sequence[Row[Any]]:
        """The page of hits for ``params`` (query, user_id, before_id, limit)."""
        query = params["query"]
        if is_dense(session, query):
            _force(session, enable_bitmapscan="off")
            return session.execute(self._dense, params).all()
        _force(session, enable_seqscan="off", enable_indexscan="off")
        narrower = index_query(session, query)
        if narrower == query:
            return session.execute(self._sparse, params).all()
        return session.execute(self._rechecked, {**params, "index_query": narrower}).all()


def is_dense(session: Session, query: str) -> bool:
    """Whether the planner expects more than ``DENSE_SHARE`` of all messages to match."""
    total = session.execute(_ROW_COUNT).scalar()
    if total is None or total <= 0:  # never analysed: no estimate to go by
        return False
    return _estimate(session, query) > DENSE_SHARE * float(total)


def index_query(session: Session, query: str) -> str:
    """What to ask the GIN index: ``query``, less a last prefix word that is common alone."""
    parts = query.split(" & ")  # search.tsquery's words: \w+ only, no quotes, no '&'
    if len(parts) < 2 or not parts[-1].endswith(":*") or not is_dense(session, parts[-1]):
        return query
    return " & ".join(parts[:-1])


def _estimate(session: Session, query: str) -> float:
    plan = session.execute(_ESTIMATE, {"query": query}).scalar()
    return float(plan[0]["Plan"]["Plan Rows"]) if plan else 0.0


def _force(session: Session, **settings: str) -> None:
    """Switch planner methods off for the rest of this transaction only."""
    for name, value in settings.items():
        session.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
        )
