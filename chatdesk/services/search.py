"""Full-text search across every message of a user, newest matches first.

SQLite uses the FTS5 index the migrations keep in sync; PostgreSQL its GIN-indexed
``tsvector`` through ``chatdesk_search_ids`` (migration 0013), which asks the index
alone first and walks the newest messages only for a common word: the planner alone
walked the whole history for a word that matched nothing, and under row-level security
no plan outside such a function may use the index at all.
What a person types is turned into a safe query (each word quoted, the last one
matching as a prefix), never passed through as query syntax. A last word of one
character is matched as a whole word: as a prefix it would match almost every message
and take FTS5 hundreds of milliseconds on a large history.

Results page by keyset (``before_id``), newest first. The window searches from a
worker thread; its reads begin deferred (``UnitOfWork.read``), so a search in flight
never holds up the GUI thread's writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from chatdesk.services.errors import ValidationError
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.base import UTCDateTime
from chatdesk.vocabulary import Role

HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"
"""Control characters around matched words in snippets: they cannot occur in text a
person types into the composer, and the UI turns them into highlighting."""
MAX_QUERY_CHARS = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
MIN_PREFIX_CHARS = 2

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    message_id: int
    thread_id: int
    thread_title: str
    role: Role
    snippet: str
    created_at: datetime


def fts5_query(query: str) -> str:
    """Words of ``query`` as an FTS5 AND-query; the last word also matches as a prefix."""
    words = _WORD.findall(query)
    if not words:
        return ""
    quoted = [f'"{word}"' for word in words]
    if len(words[-1]) >= MIN_PREFIX_CHARS:
        quoted[-1] += "*"
    return " ".join(quoted)


def tsquery(query: str) -> str:
    """The same for PostgreSQL's ``to_tsquery('simple', ...)``."""
    words = [word.replace("'", "") for word in _WORD.findall(query)]
    if not words:
        return ""
    parts = [f"'{word}'" for word in words]
    if len(words[-1]) >= MIN_PREFIX_CHARS:
        parts[-1] += ":*"
    return " & ".join(parts)


_SQLITE = text(
    f"""
    SELECT m.id, m.thread_id, t.title, m.role, m.created_at,
           snippet(messages_fts, 0, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '…', 16)
    FROM messages_fts
    JOIN messages AS m ON m.id = messages_fts.rowid
    JOIN threads AS t ON t.id = m.thread_id
    WHERE messages_fts MATCH :query AND m.user_id = :user_id
      AND messages_fts.rowid < :before_id
    ORDER BY messages_fts.rowid DESC
    LIMIT :limit
    """
)

_POSTGRES = text(
    f"""
    SELECT m.id, m.thread_id, t.title, m.role, m.created_at,
           ts_headline('simple', left(m.content, 20000), to_tsquery('simple', :query),
                       'StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, MaxWords=24,
                        MinWords=8, MaxFragments=1, FragmentDelimiter=…')
    FROM chatdesk_search_ids(to_tsquery('simple', :query), :user_id, :before_id, :limit)
         AS found(id)
    JOIN messages AS m ON m.id = found.id
    JOIN threads AS t ON t.id = m.thread_id
    WHERE m.user_id = :user_id
    ORDER BY m.id DESC
    """
)
"""Matches found by ``chatdesk_search_ids`` (migration 0013: under row-level security
the GIN index serves only a function that runs as the tables' owner), then read under
the person's policies like any row."""


_NO_BOUND = 2**62
"""``before_id`` of a first page: above every id either database hands out."""


class SearchService:
    """Searches the acting user's messages."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def search(
        self,
        user_id: int,
        query: str,
        *,
        limit: int = DEFAULT_LIMIT,
        before_id: int | None = None,
    ) -> list[SearchHit]:
        """Messages containing every word of ``query`` (prefix on the last), newest first.

        ``before_id`` continues a list: only messages older than that one come back.
        """
        if len(query) > MAX_QUERY_CHARS:
            raise ValidationError(f"A search can have at most {MAX_QUERY_CHARS} characters.")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"A search returns 1 to {MAX_LIMIT} results at a time.")
        with self._uow.read() as session:
            dialect = session.get_bind().dialect.name
            if dialect == "sqlite":
                compiled = fts5_query(query)
            elif dialect == "postgresql":
                compiled = tsquery(query)
            else:
                raise ValidationError(f"Search is not available on {dialect}.")
            if not compiled:
                return []
            params = {
                "query": compiled,
                "user_id": user_id,
                "limit": limit,
                "before_id": before_id if before_id is not None else _NO_BOUND,
            }
            statement = _SQLITE if dialect == "sqlite" else _POSTGRES
            rows: Sequence[Any] = session.execute(statement, params).all()
            stamp = UTCDateTime()
            dialect_obj = session.get_bind().dialect
        return [_hit(row, stamp, dialect_obj) for row in rows]


def _hit(row: Any, stamp: UTCDateTime, dialect: Any) -> SearchHit:
    created = stamp.process_result_value(row[4], dialect)
    assert created is not None
    return SearchHit(
        message_id=row[0],
        thread_id=row[1],
        thread_title=row[2],
        role=Role(row[3]),
        snippet=row[5] or "",
        created_at=created,
    )
