"""Row-level security holds for hand-written SQL: login B cannot read, change, delete or
forge login A's rows, whatever it types (migration 0013, ``docs/TEAM.md``).

A's rows are written by the real services connected as A; B is a raw connection with the
grants the team docs give a person.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from chatdesk.services import Services
from chatdesk.services.executions import LogEntry
from chatdesk.store.migrate import open_store
from chatdesk.vocabulary import ToolRule
from tests.support.attached import pdf, png
from tests.support.team_logins import Team

pytestmark = pytest.mark.postgres

PERSON_TABLES = (
    "threads",
    "messages",
    "executions",
    "execution_logs",
    "thread_tool_rules",
    "message_attachments",
    "attachment_holds",
    "thread_knowledge",
    "prompts",
)


@dataclasses.dataclass(frozen=True)
class Rows:
    """A's rows: one of each kind a person owns."""

    user: int
    thread: int
    message: int
    execution: int
    attachment: int


@pytest.fixture(scope="module")
def alice(team: Team, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rows]:
    store = open_store(team.url(team.alice))
    files = tmp_path_factory.mktemp("alice")
    services = Services(store, attachments_dir=files / "attachments")
    try:
        user = services.users.ensure()
        thread = services.threads.create(user, "Alice's private chat")
        photo = services.attachments.add(user, png(files / "photo.png"))
        sent = services.messages.send(user, thread.id, "secret plans", attachments=[photo])
        assert sent.execution is not None
        services.executions.start(user, sent.execution.id)
        services.executions.append_logs(user, sent.execution.id, [LogEntry("agent_started")])
        services.tool_rules.set_rule(user, thread.id, "web", ToolRule.DISABLED, True)
        services.prompts.create(user, "mine", "a private prompt")
        document = services.attachments.add(user, pdf(files / "notes.pdf", "private notes"))
        services.knowledge.add(user, thread.id, [document])
        services.attachments.add(user, png(files / "held.png", color="blue"))  # a hold
        yield Rows(user, thread.id, sent.message.id, sent.execution.id, photo.id)
    finally:
        store.close()


@pytest.fixture
def bob(team: Team, alice: Rows) -> Iterator[Connection]:
    engine = team.engine(team.bob)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def _count(connection: Connection, sql: str, **params: object) -> int:
    return int(connection.execute(text(sql), params).scalar_one())


def _refused(connection: Connection, sql: str, **params: object) -> str:
    """The SQLSTATE the database refused ``sql`` with (the transaction rolled back)."""
    with pytest.raises(DBAPIError) as caught:
        connection.execute(text(sql), params)
    connection.rollback()
    return str(getattr(caught.value.orig, "sqlstate", ""))


def test_the_owner_sees_that_alice_has_every_kind_of_row(team: Team, alice: Rows) -> None:
    """The rows below exist (so B's zero counts mean hidden, not missing)."""
    engine = team.engine(team.alice)
    with engine.connect() as connection:
        for table in PERSON_TABLES:
            assert _count(connection, f"SELECT count(*) FROM {table}") >= 1, table
    engine.dispose()


def test_bob_reads_nothing_of_alices(bob: Connection, team: Team) -> None:
    for table in PERSON_TABLES:
        assert _count(bob, f"SELECT count(*) FROM {table}") == 0, table
    assert _count(bob, "SELECT count(*) FROM users WHERE name = :name", name=team.alice) == 0
    assert _count(bob, "SELECT count(*) FROM messages WHERE content LIKE '%secret%'") == 0


def test_bob_changes_and_deletes_nothing_of_alices(bob: Connection, alice: Rows) -> None:
    for sql in (
        "UPDATE threads SET title = 'owned' WHERE id = :thread",
        "UPDATE messages SET content = 'owned' WHERE thread_id = :thread",
        "UPDATE executions SET status = 'failed' WHERE thread_id = :thread",
        "DELETE FROM messages WHERE thread_id = :thread",
        "DELETE FROM execution_logs",
        "DELETE FROM threads WHERE id = :thread",
        "DELETE FROM prompts",
        "DELETE FROM users",
    ):
        assert bob.execute(text(sql), {"thread": alice.thread}).rowcount == 0, sql
    bob.commit()


def test_bob_cannot_write_into_alices_chat(bob: Connection, alice: Rows, team: Team) -> None:
    bob_id = _count(bob, "INSERT INTO users (name) VALUES (current_user) RETURNING id")
    bob.commit()
    message = (
        "INSERT INTO messages (thread_id, user_id, role, content, status, triggers_execution, "
        "metadata) VALUES (:thread, :user, 'user', 'forged', 'completed', false, '{}')"
    )
    # as A: the policy refuses; as B: the thread is not (thread, B)'s, the foreign key refuses
    assert _refused(bob, message, thread=alice.thread, user=alice.user) == "42501"
    assert _refused(bob, message, thread=alice.thread, user=bob_id) in {"42501", "23503"}
    assert (
        _refused(
            bob,
            "INSERT INTO threads (user_id, title, crew, pinned) "
            "VALUES (:user, 'forged', 'assistant', false)",
            user=alice.user,
        )
        == "42501"
    )
    assert (
        _refused(
            bob,
            "INSERT INTO executions (thread_id, crew, status) VALUES (:thread, 'x', 'pending')",
            thread=alice.thread,
        )
        == "42501"
    )
    assert (
        _refused(
            bob,
            "INSERT INTO execution_logs (execution_id, seq, event, detail) "
            "VALUES (:execution, 99, 'forged', '{}')",
            execution=alice.execution,
        )
        == "42501"
    )
    assert (
        _refused(
            bob,
            "INSERT INTO message_attachments (message_id, position, attachment_id, file_name) "
            "VALUES (:message, 5, :attachment, 'x.png')",
            message=alice.message,
            attachment=alice.attachment,
        )
        == "42501"
    )
    assert (
        _refused(
            bob,
            "INSERT INTO prompts (user_id, name, text) VALUES (:user, 'forged', 'x')",
            user=alice.user,
        )
        == "42501"
    )


def test_bob_cannot_become_alice(bob: Connection, team: Team, alice: Rows) -> None:
    """Neither by taking her name, nor by moving his row or a row of his to her."""
    assert _refused(bob, "INSERT INTO users (name) VALUES (:name)", name=team.alice) == "42501"
    assert (
        _refused(
            bob,
            "INSERT INTO users (name, login) VALUES ('chatdesk: import staging 1 x y', :name)",
            name=team.alice,
        )
        == "42501"
    )
    bob.execute(text("INSERT INTO users (name) VALUES (current_user) ON CONFLICT DO NOTHING"))
    bob.commit()
    assert (
        _refused(bob, "UPDATE users SET login = :name WHERE name = current_user", name=team.alice)
        == "42501"
    )
    # a temporary table named users does not stand in for the real one in the policy
    bob.execute(text("CREATE TEMPORARY TABLE users (id integer, name text, login text)"))
    bob.execute(
        text("INSERT INTO pg_temp.users VALUES (:id, current_user, current_user)"),
        {"id": alice.user},
    )
    assert _count(bob, "SELECT count(*) FROM public.threads") == 0
    bob.rollback()


def test_shared_files_keep_names_private_and_are_never_freed_from_under_alice(
    bob: Connection, alice: Rows
) -> None:
    """An attachment row (digest, size, type) is shared; its names and links are not, and
    B's delete cannot free a file A still uses."""
    assert _count(bob, "SELECT count(*) FROM attachments WHERE id = :id", id=alice.attachment) == 1
    assert _count(bob, "SELECT count(*) FROM message_attachments") == 0
    deleted = bob.execute(text("DELETE FROM attachments WHERE id = :id"), {"id": alice.attachment})
    assert deleted.rowcount == 0
    assert _refused(bob, "UPDATE attachments SET size_bytes = 1") == "42501"


def test_every_table_of_the_schema_has_row_security(bob: Connection) -> None:
    """A table added later without a policy would be readable by everyone: say so."""
    rows = bob.execute(
        text(
            "SELECT c.relname, c.relrowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
    ).all()
    unguarded = {name for name, guarded in rows if not guarded}
    assert unguarded == {"alembic_version"}


def test_the_search_function_finds_only_the_callers_own(
    bob: Connection, alice: Rows, team: Team
) -> None:
    """``chatdesk_search_ids`` runs as the owner (so the GIN index serves): asked for
    Alice's id by Bob it finds nothing; asked by Alice, her message."""
    search = (
        "SELECT count(*) FROM "
        "chatdesk_search_ids(to_tsquery('simple', 'secret'), :user, 2147483647, 50)"
    )
    assert _count(bob, search, user=alice.user) == 0
    engine = team.engine(team.alice)
    with engine.connect() as connection:
        assert _count(connection, search, user=alice.user) == 1
    engine.dispose()
