"""A PostgreSQL server's refusals, each told in one sentence naming what to fix.

Against the suite's real server: a closed port, a database that does not exist, an
unknown login, a wrong and a missing password (a scram rule in pg_hba.conf for that
login), a login without CONNECT, without USAGE on the schema, without CREATE on it for
a new database, without privileges on the tables and sequences, a server that
refuses unencrypted connections (``hostnossl ... reject``) and one asked for TLS it
does not offer. ``upgrade_needed`` (what start-up asks first) and ``open_store``
raise the same ``ServerAccessError``; no message holds a password or a traceback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from chatdesk.store.connection import create_store_engine
from chatdesk.store.migrate import downgrade, open_store, upgrade_needed
from chatdesk.store.server_access import AccessProblem, ServerAccessError, explain
from tests.support.pg_roles import admin, closed_port, hba_rules, new_role, url_as

pytestmark = pytest.mark.postgres


@pytest.fixture
def server(postgres_server: object | None) -> Any:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    return postgres_server


@pytest.fixture
def head_db(server: Any, postgres_at_head: str) -> Iterator[str]:
    """A database at head (a copy of the session's), owned by the superuser."""
    name = f"acc_{uuid.uuid4().hex[:10]}"
    server.create_database(name, template=postgres_at_head)
    yield name
    server.drop_database(name)


def refusal(url: str) -> ServerAccessError:
    """What start-up meets first, checked to be what opening meets too."""
    with pytest.raises(ServerAccessError) as first:
        upgrade_needed(url)
    with pytest.raises(ServerAccessError) as opening:
        open_store(url)
    assert str(first.value) == str(opening.value)
    message = str(first.value)
    assert "Traceback" not in message and "\n" not in message
    assert "secret-pw" not in message and "wrong-pw" not in message
    return first.value


def test_a_closed_port_is_unreachable(server: Any) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://chatdesk:secret-pw@127.0.0.1:{port}/chatdesk"
    error = refusal(url)
    assert error.problem is AccessProblem.UNREACHABLE
    assert f"127.0.0.1:{port}" in str(error) and "connection refused" in str(error)
    assert error.title == "chatdesk cannot reach its database server"


def test_a_database_that_does_not_exist_is_named(server: Any) -> None:
    error = refusal(server.url_for("no_such_db_here"))
    assert error.problem is AccessProblem.NO_DATABASE
    assert '"no_such_db_here" does not exist' in str(error)


def test_an_unknown_login_is_a_bad_login(server: Any, head_db: str) -> None:
    error = refusal(url_as(server, head_db, "nobody_by_this_name"))
    assert error.problem is AccessProblem.BAD_LOGIN
    assert '"nobody_by_this_name"' in str(error)


def test_a_wrong_or_missing_password_is_a_bad_login(server: Any, head_db: str) -> None:
    role = new_role(server, password="secret-pw")

    def scram_is_live() -> bool:
        try:
            psycopg.connect(
                host="127.0.0.1", port=server.port, user=role, dbname=head_db, password="x"
            ).close()
        except psycopg.OperationalError:
            return True
        return False

    with hba_rules(server, [f"host all {role} 127.0.0.1/32 scram-sha-256"], scram_is_live):
        wrong = refusal(url_as(server, head_db, role, "wrong-pw"))
        assert wrong.problem is AccessProblem.BAD_LOGIN and f'"{role}"' in str(wrong)
        assert refusal(url_as(server, head_db, role)).problem is AccessProblem.BAD_LOGIN
        # the right password gets as far as the grants: the login works
        with pytest.raises(ServerAccessError) as grants:
            open_store(url_as(server, head_db, role, "secret-pw"))
        assert grants.value.problem is AccessProblem.MISSING_GRANT


def test_a_login_without_connect_is_told_the_grant(server: Any, head_db: str) -> None:
    role = new_role(server)
    admin(server, "postgres", f"REVOKE CONNECT ON DATABASE {head_db} FROM PUBLIC")
    error = refusal(url_as(server, head_db, role))
    assert error.problem is AccessProblem.MISSING_GRANT
    assert f'CONNECT on database "{head_db}"' in str(error)


def test_a_login_without_table_grants_is_told_each_one(server: Any, head_db: str) -> None:
    role = new_role(server)
    error = refusal(url_as(server, head_db, role))
    assert error.problem is AccessProblem.MISSING_GRANT
    assert "SELECT, INSERT, UPDATE, DELETE on table messages" in error.grants
    assert "SELECT on table alembic_version" in error.grants
    assert "USAGE on sequence public.messages_id_seq" in error.grants
    assert f'"{role}" lacks' in str(error) and "docs/TEAM.md" in str(error)
    admin(
        server,
        head_db,
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE ON threads FROM {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    partly = refusal(url_as(server, head_db, role))
    assert partly.grants == ("UPDATE, DELETE on table threads",)
    admin(server, head_db, f"GRANT UPDATE, DELETE ON threads TO {role}")
    open_store(url_as(server, head_db, role)).close()


def test_a_login_without_usage_on_the_schema_is_told_so(server: Any, head_db: str) -> None:
    role = new_role(server)
    admin(server, head_db, "REVOKE USAGE ON SCHEMA public FROM PUBLIC")
    error = refusal(url_as(server, head_db, role))
    assert error.grants == ("USAGE on schema public",)


def test_creating_the_tables_needs_create_on_the_schema(server: Any) -> None:
    name = f"empty_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    try:
        role = new_role(server)
        error = refusal(url_as(server, name, role))
        assert error.grants == ("CREATE on schema public",)
    finally:
        server.drop_database(name)


def test_an_upgrade_by_a_login_that_does_not_own_the_tables_is_refused(
    server: Any, head_db: str
) -> None:
    downgrade(create_store_engine(server.url_for(head_db)), "0010")
    role = new_role(server)
    admin(
        server,
        head_db,
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    error = refusal(url_as(server, head_db, role))
    assert error.problem is AccessProblem.MISSING_GRANT
    assert '"chatdesk"' in str(error) and "alembic upgrade head" in str(error)


def test_a_server_that_requires_tls_says_sslmode(server: Any, head_db: str) -> None:
    def rejects() -> bool:
        try:
            psycopg.connect(
                host="127.0.0.1", port=server.port, user="chatdesk", dbname=head_db
            ).close()
        except psycopg.OperationalError:
            return True
        return False

    with hba_rules(server, [f"hostnossl {head_db} all 127.0.0.1/32 reject"], rejects):
        error = refusal(server.url_for(head_db))
    assert error.problem is AccessProblem.TLS_REQUIRED
    assert "sslmode=require" in str(error)


def test_asking_tls_of_a_server_without_it_is_told(server: Any, head_db: str) -> None:
    error = refusal(server.url_for(head_db) + "?sslmode=require")
    assert error.problem is AccessProblem.TLS_UNAVAILABLE
    assert "sslmode" in str(error)


def test_a_bug_is_not_dressed_up_as_a_refusal() -> None:
    assert explain(ValueError("something else"), "postgresql+psycopg://u@h/d") is None


def test_no_rule_for_an_unencrypted_login_suggests_tls_or_the_administrator() -> None:
    """Told apart by wording (no server: the suite's trusts every local login)."""
    refused = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
        'no pg_hba.conf entry for host "10.0.0.9", user "ada", database "chat", no encryption'
    )
    error = explain(refused, "postgresql+psycopg://ada:pw@10.0.0.5/chat")
    assert error is not None and error.problem is AccessProblem.TLS_REQUIRED
    assert "sslmode=require" in str(error) and "pg_hba.conf" in str(error)
