"""The chunks that best answer a question: SQLite FTS5 ranked by ``bm25()``.

The engine is the one message search already uses, so there is nothing to download
and no model to load; it tokenises as that index does (``unicode61`` with diacritics
removed: ``café`` finds ``cafe``). A question is never passed to FTS5 as syntax: its
words are taken out (``\\w+``), each one quoted, and joined with ``OR``, so ``"``,
``*``, ``NEAR``, ``-`` or parentheses are just characters, and bm25 ranks chunks that
hold more of the rarer words first. Common English words are dropped when the
question has others; when nothing matches, the first chunks stand in (the start of a
document is the likeliest place for what it is about).
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType

from chatdesk.services.documents.chunks import Chunk

TOKENIZER = "unicode61 remove_diacritics 2"
"""As ``store/search_index.py``'s ``messages_fts``."""
MAX_QUERY_TERMS = 32
"""A pasted paragraph as a question still makes a query FTS5 answers at once."""
STOPWORDS = frozenset(
    """a an and are as at be but by can could did do does for from had has have how i if
    in into is it its me my no not of on or our so than that the their them then there
    these they this to was we were what when where which who whom why will with would
    you your about please tell show give find""".split()
)
_WORD = re.compile(r"\w+")
_tables = itertools.count(1)


@dataclass(frozen=True)
class Hit:
    """A text of the index by its position, with bm25's score (lower is better; None:
    nothing matched and this is one of the first texts)."""

    position: int
    score: float | None


def query_terms(question: str) -> list[str]:
    """The question's distinct words, common ones dropped unless nothing else is left."""
    words = list(dict.fromkeys(word.casefold() for word in _WORD.findall(question)))
    kept = [word for word in words if word not in STOPWORDS]
    return (kept or words)[:MAX_QUERY_TERMS]


def fts5_query(question: str) -> str:
    """An FTS5 query matching any word of ``question``, each quoted; "" for no words."""
    return " OR ".join(f'"{term}"' for term in query_terms(question))


class TextIndex:
    """An FTS5 table over ``texts``, in its own in-memory database or the caller's.

    A caller's connection gets a TEMP table of its own (dropped by ``close``), so the
    index never touches the caller's schema or files. Safe to query from any thread.
    """

    def __init__(self, texts: Iterable[str], connection: sqlite3.Connection | None = None) -> None:
        self._own = connection is None
        self._connection = connection or sqlite3.connect(":memory:", check_same_thread=False)
        self._name = f"document_chunks_{next(_tables)}"
        self._lock = threading.Lock()
        rows = list(enumerate(texts, start=1))
        self._count = len(rows)
        with self._lock:
            self._connection.execute(
                f"CREATE VIRTUAL TABLE temp.{self._name} USING fts5(text, tokenize='{TOKENIZER}')"
            )
            self._connection.executemany(
                f"INSERT INTO temp.{self._name}(rowid, text) VALUES (?, ?)", rows
            )
            if self._own:
                self._connection.commit()

    def __len__(self) -> int:
        return self._count

    def best(self, question: str, k: int) -> list[Hit]:
        """The ``k`` texts that best match ``question``, best first."""
        query = fts5_query(question)
        with self._lock:
            rows = (
                self._connection.execute(
                    f"SELECT rowid, bm25({self._name}) AS score "
                    f"FROM temp.{self._name} WHERE {self._name} MATCH ? "
                    "ORDER BY score, rowid LIMIT ?",
                    (query, k),
                ).fetchall()
                if query
                else []
            )
        if not rows:
            return [Hit(position, None) for position in range(min(k, self._count))]
        return [Hit(rowid - 1, score) for rowid, score in rows]

    def close(self) -> None:
        with self._lock:
            if self._own:
                self._connection.close()
            else:
                self._connection.execute(f"DROP TABLE IF EXISTS temp.{self._name}")

    def __enter__(self) -> TextIndex:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def best_chunks(chunks: Sequence[Chunk], question: str, k: int) -> list[tuple[Chunk, Hit]]:
    """The ``k`` chunks that best answer ``question``, best first, in a throwaway index."""
    with TextIndex(chunk.text for chunk in chunks) as index:
        return [(chunks[hit.position], hit) for hit in index.best(question, k)]
