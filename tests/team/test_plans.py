"""The policies keep the indexes working: the thread list, its previews, a page of a long
chat and a page of a run's steps, read by a person through the services on ~20k threads,
~40k messages and ~25k steps, use index scans
(the InitPlan of ``chatdesk_user_ids()`` runs once per query, not once per row).

Run with ``-s`` to see the plans and their times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError

from chatdesk.services import Services
from chatdesk.store.migrate import Store, open_store
from tests.support.team_logins import Team

pytestmark = pytest.mark.postgres

THREADS = 20_000  # half each person's
CHAIN = 20_000  # messages of Alice's long chat, one after another
STEPS = 5_000  # steps of the run of Alice's long chat


@dataclasses.dataclass
class Filled:
    store: Store
    services: Services
    user: int
    long_thread: int


def _fill(team: Team) -> None:
    """As the owner (not subject to the policies): two people, their chats, a long one."""
    owner = create_engine(team.owner_url)
    with owner.begin() as connection:

        def run(sql: str) -> None:
            connection.execute(text(sql))

        run(f"INSERT INTO users (id, name, login) VALUES (1, '{team.alice}', '{team.alice}')")
        run(f"INSERT INTO users (id, name, login) VALUES (2, '{team.bob}', '{team.bob}')")
        run(
            "INSERT INTO threads (id, user_id, title, updated_at) "
            "SELECT g, 1 + g % 2, 'chat ' || g, now() - g * interval '1 minute' "
            f"FROM generate_series(1, {THREADS}) g"
        )
        run(
            "INSERT INTO messages (id, thread_id, user_id, role, content, status, metadata, "
            "parent_id) SELECT g, 2, 1, 'user', 'words of message ' || g, 'completed', '{}', "
            f"NULLIF(g - 1, 0) FROM generate_series(1, {CHAIN}) g"
        )
        run(
            "INSERT INTO messages (id, thread_id, user_id, role, content, status, metadata) "
            f"SELECT {CHAIN} + g, g, 1 + g % 2, 'user', 'hello ' || g, 'completed', '{{}}' "
            f"FROM generate_series(1, {THREADS}) g WHERE g <> 2"
        )
        run(
            "INSERT INTO executions (id, thread_id, crew, status) "
            f"SELECT g, g, 'assistant', 'completed' FROM generate_series(1, {THREADS}) g"
        )
        run(
            "INSERT INTO execution_logs (execution_id, seq, event, detail) "
            f"SELECT 2, g, 'step', '{{}}' FROM generate_series(1, {STEPS}) g"
        )
        run(
            "INSERT INTO execution_logs (execution_id, seq, event, detail) "
            f"SELECT g, 1, 'step', '{{}}' FROM generate_series(1, {THREADS}) g WHERE g <> 2"
        )
        run(f"UPDATE threads SET current_leaf_id = {CHAIN} WHERE id = 2")
        run(f"UPDATE threads SET current_leaf_id = {CHAIN} + id WHERE id <> 2")
        for table in ("users", "threads", "messages", "executions", "execution_logs"):
            run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100000)")
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    owner.dispose()


@pytest.fixture(scope="module")
def filled(team: Team, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    _fill(team)
    store = open_store(team.url(team.alice))
    files: Path = tmp_path_factory.mktemp("plans")
    services = Services(store, attachments_dir=files / "attachments")
    try:
        yield Filled(store, services, services.users.ensure(), 2)
    finally:
        store.close()


def _plans_of(filled: Filled, read: Any) -> list[str]:
    """EXPLAIN ANALYZE of every SELECT ``read()`` sends, run again as the same login."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    engine = filled.store.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    plans = []
    with engine.connect() as connection:
        for statement, parameters in sent:
            rows = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters
            ).all()
            plans.append(f"{statement}\n" + "\n".join(row[0] for row in rows))
    return plans


def _no_full_scans(plans: list[str]) -> None:
    for plan in plans:
        print("\n" + plan)
        for table in ("threads", "messages", "executions", "execution_logs"):
            assert f"Seq Scan on {table}" not in plan, plan


def test_the_thread_list_reads_an_index(filled: Filled) -> None:
    def read() -> None:
        page = filled.services.threads.list(filled.user, limit=50)
        assert len(page) == 50 and all(t.user_id == filled.user for t in page)

    _no_full_scans(_plans_of(filled, read))


def test_a_page_of_a_long_chat_reads_an_index(filled: Filled) -> None:
    def read() -> None:
        page = filled.services.messages.list(filled.user, filled.long_thread, limit=50)
        assert len(page.messages) == 50

    _no_full_scans(_plans_of(filled, read))


def test_a_page_of_a_runs_steps_reads_an_index(filled: Filled) -> None:
    """Steps are a person's through their run's chat: two policies deep, still indexed."""

    def read() -> None:
        steps = filled.services.executions.logs(filled.user, 2, after_seq=2_000, limit=100)
        assert len(steps) == 100

    _no_full_scans(_plans_of(filled, read))


def test_the_thread_lists_previews_read_an_index(filled: Filled) -> None:
    def read() -> None:
        ids = [t.id for t in filled.services.threads.list(filled.user, limit=50)]
        assert len(filled.services.messages.previews(filled.user, ids)) == 50

    _no_full_scans(_plans_of(filled, read))


SEARCH = "SELECT * FROM chatdesk_search_ids(to_tsquery('simple', :q), :person, :before, :n)"
PLAIN = (
    "SELECT id FROM messages WHERE to_tsvector('simple', content) @@ to_tsquery('simple', :q) "
    "AND user_id = :person AND id < :before ORDER BY id DESC LIMIT :n"
)


@pytest.mark.parametrize(
    ("query", "before"),
    [
        ("nothingmatchesthis:*", 2**31 - 1),  # nothing
        ("'19999'", 2**31 - 1),  # one message
        ("'hello' & '4'", 2**31 - 1),  # a few
        ("'hello':*", 2**31 - 1),  # thousands: the newest-first path
        ("'words':*", 10_000),  # thousands, a later page
    ],
)
def test_search_finds_what_a_plain_query_finds(
    filled: Filled, team: Team, query: str, before: int
) -> None:
    """Both of ``chatdesk_search_ids``' ways (all matches from the GIN index, or the
    newest messages first) answer what the plain query answers, as the owner sees it."""
    params = {"q": query, "person": filled.user, "before": before, "n": 20}
    owner = create_engine(team.owner_url)
    with owner.connect() as connection:
        expected = connection.execute(text(PLAIN), params).scalars().all()
    owner.dispose()
    with filled.store.engine.connect() as connection:
        assert connection.execute(text(SEARCH), params).scalars().all() == expected


def test_a_search_matching_nothing_asks_the_gin_index(filled: Filled, team: Team) -> None:
    """Seen through ``auto_explain`` (the owner may load it): the function's probe is a
    bitmap scan of the full-text index, not a walk through the person's messages."""
    owner = create_engine(team.owner_url)
    notices: list[str] = []
    try:
        with owner.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            raw.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
            try:
                connection.execute(text("LOAD 'auto_explain'"))
            except DBAPIError:
                pytest.skip("auto_explain is not installed on this server")
            for setting in (
                "auto_explain.log_min_duration = 0",
                "auto_explain.log_nested_statements = on",
                "auto_explain.log_level = notice",
            ):
                connection.execute(text(f"SET {setting}"))
            found = connection.execute(
                text(SEARCH),
                {"q": "nothingmatchesthis:*", "person": filled.user, "before": 2**31 - 1, "n": 20},
            )
            assert found.all() == []
            connection.rollback()
    finally:
        owner.dispose()
    assert any("Bitmap Index Scan on ix_messages_content_search" in plan for plan in notices)
    assert not any("Seq Scan on messages" in plan for plan in notices), notices
