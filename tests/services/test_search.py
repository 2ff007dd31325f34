"""Full-text search on SQLite (FTS5) and PostgreSQL, kept in sync with every write."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from chatdesk.services import Services
from chatdesk.services.errors import ValidationError
from chatdesk.services.search import HIGHLIGHT_END, HIGHLIGHT_START, fts5_query


def test_search_finds_words_newest_first_with_snippets(services: Services, user_id: int) -> None:
    trip = services.threads.create(user_id, "Trip")
    code = services.threads.create(user_id, "Code")
    services.messages.send(user_id, trip.id, "Book the train to Lisbon", triggers_execution=False)
    services.messages.send(user_id, code.id, "Why does my regex fail?", triggers_execution=False)
    newest = services.messages.send(
        user_id, trip.id, "Lisbon hotels near the river", triggers_execution=False
    ).message
    hits = services.search.search(user_id, "lisbon")
    assert [h.thread_title for h in hits] == ["Trip", "Trip"]
    assert hits[0].message_id == newest.id
    assert f"{HIGHLIGHT_START}Lisbon{HIGHLIGHT_END}" in hits[0].snippet
    assert [h.message_id for h in services.search.search(user_id, "hotels lisb")] == [newest.id]
    assert services.search.search(user_id, "reg")[0].thread_id == code.id  # prefix


def test_search_follows_edits_deletes_and_streamed_replies(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    message = services.messages.send(
        user_id, thread.id, "draft about penguins", triggers_execution=False
    ).message
    services.messages.edit(user_id, message.id, "draft about walruses")
    assert services.search.search(user_id, "penguins") == []
    assert len(services.search.search(user_id, "walruses")) == 1
    reply = services.messages.add_reply(user_id, thread.id, None, "")
    services.executions.save_text(user_id, reply.id, "Walruses live in the Arctic")
    assert len(services.search.search(user_id, "arctic")) == 1
    services.messages.delete(user_id, message.id)
    services.threads.delete(user_id, thread.id)
    assert services.search.search(user_id, "walruses") == []


def test_search_only_sees_the_users_own_messages(services: Services) -> None:
    ada = services.users.ensure("ada")
    bob = services.users.ensure("bob")
    thread = services.threads.create(ada)
    services.messages.send(ada, thread.id, "secret plan", triggers_execution=False)
    assert services.search.search(bob, "secret") == []
    assert len(services.search.search(ada, "secret")) == 1


@pytest.mark.parametrize(
    "query", ['"', "AND OR NOT", "a* b:c", "NEAR(x y)", "'; DROP TABLE messages; --", "))"]
)
def test_query_syntax_is_never_interpreted(services: Services, user_id: int, query: str) -> None:
    thread = services.threads.create(user_id)
    services.messages.send(user_id, thread.id, "and or not near drop", triggers_execution=False)
    services.search.search(user_id, query)  # must not raise
    with services.store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 1


def test_empty_and_overlong_queries(services: Services, user_id: int) -> None:
    assert services.search.search(user_id, "   ") == []
    assert services.search.search(user_id, "!!!") == []
    with pytest.raises(ValidationError):
        services.search.search(user_id, "x" * 201)


def test_fts5_query_quotes_every_word() -> None:
    assert fts5_query('say "hi" there') == '"say" "hi" "there"*'
    assert fts5_query("") == ""
    assert fts5_query("vitamin c") == '"vitamin" "c"'  # one letter: a word, not a prefix


def test_results_page_by_keyset_newest_first(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id, "Notes")
    ids = [
        services.messages.send(user_id, thread.id, f"note {i}", triggers_execution=False).message.id
        for i in range(7)
    ]
    first = services.search.search(user_id, "note", limit=3)
    second = services.search.search(user_id, "note", limit=3, before_id=first[-1].message_id)
    third = services.search.search(user_id, "note", limit=3, before_id=second[-1].message_id)
    found = [h.message_id for h in first + second + third]
    assert found == sorted(ids, reverse=True)
    assert services.search.search(user_id, "note", before_id=min(ids)) == []
    with pytest.raises(ValidationError):
        services.search.search(user_id, "note", limit=0)


def test_a_single_letter_matches_the_word_not_every_word_starting_with_it(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id)
    services.messages.send(user_id, thread.id, "vitamin c dose", triggers_execution=False)
    services.messages.send(user_id, thread.id, "vitamin chart", triggers_execution=False)
    assert [h.snippet for h in services.search.search(user_id, "vitamin c")] == [
        f"{HIGHLIGHT_START}vitamin{HIGHLIGHT_END} {HIGHLIGHT_START}c{HIGHLIGHT_END} dose"
    ]
    assert len(services.search.search(user_id, "vitamin ch")) == 1


def test_a_search_from_another_thread_sees_committed_writes(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id, "Birds")
    services.messages.send(user_id, thread.id, "a heron by the lake", triggers_execution=False)
    found: list[list[str]] = []
    searcher = threading.Thread(
        target=lambda: found.append(
            [h.thread_title for h in services.search.search(user_id, "heron")]
        )
    )
    searcher.start()
    searcher.join(30)
    assert found == [["Birds"]]
