"""Finding the chunks a question needs with FTS5: ranking, hostile questions, fallbacks."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from chatdesk.services.documents.chunks import Chunk
from chatdesk.services.documents.retrieval import (
    MAX_QUERY_TERMS,
    TextIndex,
    best_chunks,
    fts5_query,
    query_terms,
)

TEXTS = [
    "The harbour project starts in spring, with the old crane removed first.",
    "Steel prices rose in March; the budget for the pier grows by a tenth.",
    "Zebra crossings are painted near the café on the harbour road.",
    "Invoices are due within thirty days; late invoices carry interest.",
    "The crane contract ends in June and the crane must be returned.",
]
CHUNKS = [Chunk(n, text, n + 1, n + 1) for n, text in enumerate(TEXTS)]

HOSTILE = [
    '"',
    '""""',
    'crane"',
    "cra*",
    "*",
    "NEAR(crane invoices)",
    "crane NEAR invoices",
    "-crane",
    "crane AND NOT invoices OR",
    "(crane",
    "crane)",
    "text:crane",
    "{text}: crane",
    "^crane",
    "crane + steel",
    "'; DROP TABLE chunks; --",
    "",
    "   ",
    "?!.,;",
    "crane " * 5000,
    "\x00crane\x00",
    "🦓 zebra",
]


def test_the_chunk_holding_the_rare_words_comes_first() -> None:
    found = best_chunks(CHUNKS, "When is the invoice due? How many days for invoices?", 2)

    assert found[0][0].index == 3
    assert found[0][1].score is not None and found[0][1].score < 0  # bm25: lower is better


def test_more_matching_words_rank_higher() -> None:
    found = best_chunks(CHUNKS, "crane contract June", 3)

    assert found[0][0].index == 4
    assert {chunk.index for chunk, _hit in found} == {0, 4}  # only those mention them


@pytest.mark.parametrize("question", HOSTILE)
def test_a_hostile_question_never_breaks_the_query(question: str) -> None:
    found = best_chunks(CHUNKS, question, 3)

    assert 1 <= len(found) <= 3
    assert all(isinstance(chunk, Chunk) for chunk, _hit in found)


def test_a_question_with_syntax_still_finds_its_words() -> None:
    (first, _hit), *_ = best_chunks(CHUNKS, 'NEAR("zebra" -crossings*)', 1)

    assert first.index == 2


def test_nothing_matching_falls_back_to_the_first_chunks() -> None:
    found = best_chunks(CHUNKS, "xylophone quartet", 2)

    assert [(chunk.index, hit.score) for chunk, hit in found] == [(0, None), (1, None)]


def test_diacritics_and_case_do_not_matter() -> None:
    assert best_chunks(CHUNKS, "CAFE", 1)[0][0].index == 2
    assert best_chunks(CHUNKS, "hàrbour róad", 1)[0][0].index == 2


def test_common_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert query_terms("What is the crane for?") == ["crane"]
    assert query_terms("what is the") == ["what", "is", "the"]
    assert query_terms("Crane crane CRANE") == ["crane"]
    assert len(query_terms(" ".join(f"word{n}" for n in range(100)))) == MAX_QUERY_TERMS


def test_every_term_is_quoted() -> None:
    assert fts5_query('NEAR(crane) -steel "x"') == '"near" OR "crane" OR "steel" OR "x"'
    assert fts5_query("?!") == ""


def test_an_index_in_the_callers_database_is_temporary_and_dropped(tmp_path: object) -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE mine (id INTEGER)")

    with TextIndex(TEXTS, connection) as index:
        assert len(index) == 5
        assert index.best("zebra", 1)[0].position == 2
        temp = connection.execute("SELECT name FROM sqlite_temp_master").fetchall()
        assert temp, "the index lives in the temp schema"
    main = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}

    assert main == {"mine"}
    assert connection.execute("SELECT name FROM sqlite_temp_master").fetchall() == []
    connection.close()


def test_an_index_is_queried_from_other_threads() -> None:
    with TextIndex(TEXTS) as index:
        answers: list[int] = []

        def ask() -> None:
            answers.append(index.best("invoices", 1)[0].position)

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    assert answers == [3] * 8
