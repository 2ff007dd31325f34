"""PostgreSQL search picks its plan from the planner's estimate, and both plans agree.

The bug this guards: a word that matched nothing walked the whole history backwards
(``to_tsvector`` on every message: seconds), because the planner's default guess for
an unknown word made that plan look cheap. After ``ANALYZE``, a common word takes the
newest-first walk and a rare or absent one the GIN index; the plan is checked with
``EXPLAIN`` inside the same forced settings, and both return what a plain scan does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from chatdesk.services import Services
from chatdesk.services.search import tsquery
from chatdesk.services.search_postgres import index_query, is_dense
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


def test_common_words_walk_newest_first_and_rare_ones_use_the_index(
    analysed: tuple[Services, int, list[int]],
) -> None:
    services, _user, _ids = analysed
    with services.store.session_factory() as session:
        assert is_dense(session, tsquery("common"))
        assert not is_dense(session, tsquery("rare"))
        assert not is_dense(session, tsquery("nowhere"))


def test_both_plans_page_through_the_same_hits(
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


def test_search_on_a_never_analysed_table_takes_the_index(
    postgres_server: object | None, postgres_at_head: str | None
) -> None:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    url: str = postgres_server.create_database(name, template=postgres_at_head)  # type: ignore[attr-defined]
    store = open_store(url)
    try:
        with store.session_factory() as session:
            assert not is_dense(session, tsquery("anything"))
    finally:
        store.close()
        postgres_server.drop_database(name)  # type: ignore[attr-defined]


def test_a_rare_word_beside_a_common_prefix_asks_the_index_for_the_rare_one(
    analysed: tuple[Services, int, list[int]],
) -> None:
    """GIN would gather every message starting "comm" first; it is asked for 'rare'
    alone and the three it gives are checked against the whole query."""
    services, user_id, ids = analysed
    with services.store.session_factory() as session:
        assert index_query(session, tsquery("rare comm")) == "'rare'"
        assert index_query(session, tsquery("rare nowh")) == tsquery("rare nowh")
        assert index_query(session, tsquery("comm")) == tsquery("comm")
    both = services.search.search(user_id, "rare comm")
    assert [h.message_id for h in both] == [ids[290], ids[150]]
    assert [h.message_id for h in services.search.search(user_id, "rare oth")] == [ids[5]]
    assert services.search.search(user_id, "nowhere comm") == []
