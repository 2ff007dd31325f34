"""PostgreSQL search (``chatdesk_search_ids``) returns what a plain scan does, page by
page, and a word that matches nothing is answered by the GIN index.

The bug this guards: a word that matched nothing walked the whole history backwards
(``to_tsvector`` on every message: seconds), because the planner's default guess for
an unknown word made that plan look cheap. The search function asks the GIN index
first, with the planner's other ways switched off; the plan is checked with
``EXPLAIN`` inside the same settings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from chatdesk.services import Services
from chatdesk.services.search import tsquery
from chatdesk.store.migrate import Store, open_store

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def analysed(
    postgres_server: object | None, postgres_at_head: str | None
) -> Iterator[tuple[Services, int, list[int]]]:
    """300 messages, 'common' in every second one, 'rare' in three; then ANALYZE."""
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"search_{uuid.uuid4().hex[:10]}"
    url: str = postgres_server.create_database(name, template=postgres_at_head)  # type: ignore[attr-defined]
    store: Store = open_store(url)
    services = Services(store)
    user_id = services.users.ensure()
    thread = services.threads.create(user_id, "Many")
    ids = []
    with store.engine.begin() as connection:
        for index in range(300):
            words = ["common"] if index % 2 == 0 else ["other"]
            if index in (5, 150, 290):
                words.append("rare")
            ids.append(
                connection.execute(
                    text(
                        "INSERT INTO messages (thread_id, user_id, role, content, status, "
                        "triggers_execution, metadata, created_at, updated_at, chosen_at) "
                        "VALUES (:t, :u, 'user', :c, 'completed', false, '{}', now(), now(), "
                        "now()) RETURNING id"
                    ),
                    {"t": thread.id, "u": user_id, "c": " ".join(words) + f" filler{index}"},
                ).scalar_one()
            )
        connection.exec_driver_sql("ANALYZE messages")
    yield services, user_id, ids
    store.close()
    postgres_server.drop_database(name)  # type: ignore[attr-defined]


def _expected(ids: list[int], every: list[int], before: int | None, limit: int) -> list[int]:
    chosen = [ids[i] for i in every]
    return sorted((i for i in chosen if before is None or i < before), reverse=True)[:limit]


def test_search_pages_through_the_hits_a_plain_scan_finds(
    analysed: tuple[Services, int, list[int]],
) -> None:
    services, user_id, ids = analysed
    common = list(range(0, 300, 2))
    hits = services.search.search(user_id, "common", limit=7)
    assert [h.message_id for h in hits] == _expected(ids, common, None, 7)
    older = services.search.search(user_id, "common", limit=7, before_id=hits[-1].message_id)
    assert [h.message_id for h in older] == _expected(ids, common, hits[-1].message_id, 7)
    rare = services.search.search(user_id, "rare", limit=2)
    assert [h.message_id for h in rare] == _expected(ids, [5, 150, 290], None, 2)
    rest = services.search.search(user_id, "rare", limit=2, before_id=rare[-1].message_id)
    assert [h.message_id for h in rest] == [ids[5]]
    assert "rare" in rest[0].snippet
    assert services.search.search(user_id, "nowhere") == []


def test_a_word_that_matches_nothing_never_scans_the_messages(
    analysed: tuple[Services, int, list[int]],
) -> None:
    """The forced plan for an absent word reads the GIN index, not the table in id order."""
    services, user_id, _ids = analysed
    with services.store.session_factory() as session:
        session.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
        session.execute(text("SELECT set_config('enable_indexscan', 'off', true)"))
        plan = session.execute(
            text(
                "EXPLAIN (FORMAT JSON) SELECT id FROM messages "
                "WHERE to_tsvector('simple', content) @@ to_tsquery('simple', :q) "
                "AND user_id = :u ORDER BY id DESC LIMIT 20"
            ),
            {"q": tsquery("nowhere"), "u": user_id},
        ).scalar()
    shown = json.dumps(plan)
    assert "ix_messages_content_search" in shown
    assert "pk_messages" not in shown


def test_a_rare_word_beside_a_common_prefix_finds_just_their_messages(
    analysed: tuple[Services, int, list[int]],
) -> None:
    services, user_id, ids = analysed
    both = services.search.search(user_id, "rare comm")
    assert [h.message_id for h in both] == [ids[290], ids[150]]
    assert [h.message_id for h in services.search.search(user_id, "rare oth")] == [ids[5]]
    assert services.search.search(user_id, "nowhere comm") == []
