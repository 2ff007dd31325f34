"""What a person's PostgreSQL login may do on a team database (``docs/TEAM.md``).

The administrator owns the tables and runs the migrations; each person logs in as a
role of their own, member of one group role, and gets only the rights below. Row-level
security (migration 0013) then narrows every table to the person's own rows, so these
grants are the most a person may do, and the policies what they may do it to.
"""

from __future__ import annotations

PEOPLE_ROLE = "chatdesk_people"
"""The group role every person's login is a member of (the name the docs use)."""

EVERYTHING = "SELECT, INSERT, UPDATE, DELETE"

TABLE_GRANTS: dict[str, str] = {
    "users": EVERYTHING,
    "threads": EVERYTHING,
    "messages": EVERYTHING,
    "executions": EVERYTHING,
    "execution_logs": EVERYTHING,
    "thread_tool_rules": EVERYTHING,
    "message_attachments": EVERYTHING,
    "attachment_holds": EVERYTHING,
    "thread_knowledge": EVERYTHING,
    "prompts": EVERYTHING,
    "attachments": "SELECT, INSERT, DELETE",
    "alembic_version": "SELECT",
}
"""Per table, what a person may do (``attachments`` are shared, never changed in place;
``alembic_version`` only read: the owner upgrades)."""


def person_grants(database: str, role: str = PEOPLE_ROLE, schema: str = "public") -> list[str]:
    """The statements the administrator runs once (and after an upgrade adding tables)."""
    statements = [
        f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
    ]
    statements += [
        f"GRANT {rights} ON {schema}.{table} TO {role}" for table, rights in TABLE_GRANTS.items()
    ]
    statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    return statements
