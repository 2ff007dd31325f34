"""Which grants the PostgreSQL login lacks for what start-up is about to do, by name.

Asked before anything is read or written, so a missing grant is named ("SELECT,
UPDATE on table messages") instead of surfacing later as the first failing query.
A client uses every chatdesk table (SELECT, INSERT, UPDATE, DELETE), their id
sequences (USAGE) and the schema (USAGE); creating the schema also needs CREATE on
it, and upgrading needs the login to own the tables (ALTER is the owner's), which is
why an administrator runs ``alembic upgrade head`` as the owner role (docs/TEAM.md).

``has_table_privilege`` with a list is true when *any* is held, so each privilege is
asked alone; all in one statement each.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from chatdesk.store.base import Base
from chatdesk.store.models import Thread  # noqa: F401 -- every table registered on Base
from chatdesk.store.team_grants import TABLE_GRANTS

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
VERSION_TABLE = "alembic_version"

_SCHEMA = text("SELECT coalesce(current_schema(), 'public'), current_user")
_SCHEMA_PRIVILEGE = text(
    "SELECT has_schema_privilege(CAST(:schema AS text), CAST(:privilege AS text))"
)
_TABLES_MISSING = text(
    """
    SELECT t.name, p.privilege
    FROM (
        SELECT name, n, to_regclass(format('%I.%I', CAST(:schema AS text), name)) AS oid
        FROM unnest(:tables) WITH ORDINALITY AS u(name, n)
    ) AS t
    CROSS JOIN unnest(:privileges) WITH ORDINALITY AS p(privilege, m)
    WHERE t.oid IS NOT NULL AND NOT has_table_privilege(t.oid, p.privilege)
    ORDER BY t.n, p.m
    """
).bindparams(bindparam("tables", type_=ARRAY(String)), bindparam("privileges", type_=ARRAY(String)))
_SEQUENCES_MISSING = text(
    """
    SELECT s.sequence FROM (
        SELECT pg_get_serial_sequence(t.qualified, 'id') AS sequence
        FROM (
            SELECT format('%I.%I', CAST(:schema AS text), name) AS qualified
            FROM unnest(:tables) AS u(name)
        ) AS t
        WHERE to_regclass(t.qualified) IS NOT NULL
    ) AS s
    WHERE s.sequence IS NOT NULL AND NOT has_sequence_privilege(s.sequence, 'USAGE')
    """
).bindparams(bindparam("tables", type_=ARRAY(String)))
_FOREIGN_OWNER = text(
    """
    SELECT tableowner FROM pg_tables
    WHERE schemaname = CAST(:schema AS text) AND tablename = ANY(:tables)
      AND NOT pg_has_role(current_user, tableowner, 'USAGE')
    LIMIT 1
    """
).bindparams(bindparam("tables", type_=ARRAY(String)))


def _needed(table: str) -> tuple[str, ...]:
    """What a person's login must hold on ``table``: the team grants (one list, also
    the docs' and the tests'), all four for a table that list does not name."""
    rights = TABLE_GRANTS.get(table)
    if rights is None:
        return TABLE_PRIVILEGES
    return tuple(right.strip() for right in rights.split(","))


def login_and_schema(connection: Connection) -> tuple[str, str]:
    """(current_user, the schema chatdesk's tables live in)."""
    row = connection.execute(_SCHEMA).one()
    return str(row[1]), str(row[0])


def schema_grants_missing(connection: Connection, schema: str, creating: bool) -> list[str]:
    """USAGE on the schema (and CREATE when the tables are to be created)."""
    missing = []
    for privilege in ("USAGE", "CREATE") if creating else ("USAGE",):
        if not connection.execute(
            _SCHEMA_PRIVILEGE, {"schema": schema, "privilege": privilege}
        ).scalar():
            missing.append(f"{privilege} on schema {schema}")
    return missing


def table_grants_missing(connection: Connection, schema: str) -> list[str]:
    """Each chatdesk table's missing privileges, then its id sequence's, one entry each."""
    tables = [VERSION_TABLE, *Base.metadata.tables]
    by_table: dict[str, list[str]] = {}
    for name, privilege in connection.execute(
        _TABLES_MISSING,
        {"tables": tables, "privileges": list(TABLE_PRIVILEGES), "schema": schema},
    ):
        if privilege not in _needed(name):
            continue  # e.g. clients only read the schema version
        by_table.setdefault(name, []).append(privilege)
    missing = [f"{', '.join(privileges)} on table {name}" for name, privileges in by_table.items()]
    with_ids = [name for name, table in Base.metadata.tables.items() if "id" in table.c]
    missing += [
        f"USAGE on sequence {sequence}"
        for (sequence,) in connection.execute(
            _SEQUENCES_MISSING, {"tables": with_ids, "schema": schema}
        )
    ]
    return missing


def foreign_owner(connection: Connection, schema: str) -> str | None:
    """The role owning chatdesk's tables when it is not this login (nor one it belongs to)."""
    owner = connection.execute(
        _FOREIGN_OWNER, {"schema": schema, "tables": [VERSION_TABLE, *Base.metadata.tables]}
    ).scalar()
    return None if owner is None else str(owner)
