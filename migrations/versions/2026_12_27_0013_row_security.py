"""People, not one user: row-level security per PostgreSQL login.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-27

On PostgreSQL the chatdesk user is the database login (``current_user``). This makes
the database itself keep each person's rows from the others, even for hand-written SQL:

- ``users.login``: the login a user row belongs to (``DEFAULT current_user``): a person's
  own row, and the hidden staging users their imports write under (``import_batch``).
  The policies key on it, so an import's rows stay its person's while staged.
- ``chatdesk_user_id()``: the id of the user named ``current_user``;
  ``chatdesk_user_ids()``: every user id of the login (person and staging users).
  Both STABLE and schema-qualified (a temporary table called ``users`` cannot stand in).
- policies: rows with a ``user_id`` (threads, messages, prompts, attachment holds) are
  the login's when the id is one of its ids (``(SELECT chatdesk_user_ids())``, an
  InitPlan computed once per query, so the indexes on ``user_id`` still serve); the rows
  hanging off a thread, a run or a message are the login's when that parent is visible.
- ``chatdesk_search_ids(query, person, before, limit)``: a person's matching message ids,
  newest first. The policy on ``messages`` is evaluated before any condition that is not
  LEAKPROOF, and ``@@`` is not, so a person's own search could never use the GIN index
  (every search read all their messages). The function runs as the owner (no policy:
  the index serves) and checks the person is the session's login itself; the search's
  outer query still reads the rows under the policy. It asks the GIN index alone first
  (a word matching nothing or a few messages: all matches in milliseconds), and only
  for a common word reads the newest messages first.
- ``attachments`` (content-addressed, shared by SHA-256) stay readable and insertable by
  everyone (size, type and digest only: names live in the per-person link tables); a row
  can be deleted only when nobody's link, hold or knowledge keeps it
  (``chatdesk_attachment_unused``, SECURITY DEFINER, so it sees the others' links).

The table owner (who runs the migrations) is the administrator: it is not subject to
the policies (no FORCE), which backups (``pg_dump``) and data migrations need. A
database that was one person's (``local``) gives its chats to the login that upgrades it.

SQLite: nothing changes (one person per file).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGING_PREFIX = "chatdesk: import "
"""The name prefix of an import's hidden staging user (``services/import_batch.py``)."""

BY_USER_ID = ("threads", "messages", "prompts", "attachment_holds")
"""Tables whose rows carry their person's (or staging user's) id."""

BY_PARENT = {
    "executions": "SELECT 1 FROM {s}.threads t WHERE t.id = executions.thread_id",
    "thread_tool_rules": "SELECT 1 FROM {s}.threads t WHERE t.id = thread_tool_rules.thread_id",
    "thread_knowledge": "SELECT 1 FROM {s}.threads t WHERE t.id = thread_knowledge.thread_id",
    "execution_logs": "SELECT 1 FROM {s}.executions e WHERE e.id = execution_logs.execution_id",
    "message_attachments": (
        "SELECT 1 FROM {s}.messages m WHERE m.id = message_attachments.message_id"
    ),
}
"""Tables whose rows are visible when their parent row is (its own policy applies)."""

POLICY = "chatdesk_person"

SEARCH_PROBE = 5000
"""Matches the search first asks the GIN index for: fewer, and they are all of them
(fetched and sorted in milliseconds); more, and the newest messages hold enough."""

SEARCH_FUNCTION = f"""
CREATE FUNCTION {{s}}.chatdesk_search_ids(
    wanted tsquery, person integer, before_id bigint, max_rows integer
) RETURNS SETOF integer
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 20
SET search_path = pg_catalog, {{s}}, pg_temp
AS $$
DECLARE
    hits integer[];
    index_scans text := current_setting('enable_indexscan');
    seq_scans text := current_setting('enable_seqscan');
BEGIN
    -- only the session's own person (or a login the policies do not apply to)
    IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = person AND u.login = session_user)
       AND NOT EXISTS (
           SELECT 1 FROM pg_roles r WHERE r.rolname = session_user
           AND (r.rolsuper OR r.rolbypassrls OR pg_has_role(
               session_user,
               (SELECT c.relowner FROM pg_class c WHERE c.oid = 'messages'::regclass),
               'USAGE')))
    THEN
        RETURN;
    END IF;
    -- a rare word (or none): the GIN index has every match, in a few milliseconds
    PERFORM set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'off', true);
    SELECT array_agg(found.id) INTO hits FROM (
        SELECT m.id FROM messages m
        WHERE to_tsvector('simple', m.content) @@ wanted AND m.user_id = person
          AND m.id < before_id
        LIMIT {SEARCH_PROBE} + 1) AS found;
    PERFORM set_config('enable_indexscan', index_scans, true),
            set_config('enable_seqscan', seq_scans, true);
    IF coalesce(cardinality(hits), 0) <= {SEARCH_PROBE} THEN
        RETURN QUERY SELECT h FROM unnest(hits) AS h ORDER BY h DESC LIMIT max_rows;
        RETURN;
    END IF;
    -- a common word: the newest messages hold plenty, read newest first
    RETURN QUERY EXECUTE 'SELECT m.id FROM messages m
        WHERE to_tsvector(''simple'', m.content) @@ $1 AND m.user_id = $2 AND m.id < $3
        ORDER BY m.id DESC LIMIT $4' USING wanted, person, before_id, max_rows;
END
$$
"""
"""A person's matching message ids, newest first (see the module's docstring)."""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    s = str(schema)
    _adopt_local_user()
    op.execute("ALTER TABLE users ADD COLUMN login varchar(200) NOT NULL DEFAULT current_user")
    op.execute(f"UPDATE users SET login = name WHERE name NOT LIKE '{STAGING_PREFIX}%'")
    op.execute(
        "UPDATE users s SET login = p.name FROM users p "
        f"WHERE s.name LIKE '{STAGING_PREFIX}%' "
        "AND split_part(s.name, ' ', 4) ~ '^[0-9]{1,9}$' "
        "AND p.id = split_part(s.name, ' ', 4)::integer"
    )
    op.execute("CREATE INDEX ix_users_login ON users (login)")
    _functions(s)
    op.execute("ALTER TABLE users ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {POLICY} ON users USING (login = current_user) "
        "WITH CHECK (login = current_user "
        f"AND (name = current_user OR name LIKE '{STAGING_PREFIX}%'))"
    )
    for table in BY_USER_ID:
        mine = f"user_id = ANY ((SELECT {s}.chatdesk_user_ids())::integer[])"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({mine}) WITH CHECK ({mine})")
    for table, parent in BY_PARENT.items():
        visible = f"EXISTS ({parent.format(s=s)})"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({visible}) WITH CHECK ({visible})")
    op.execute("ALTER TABLE attachments ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY}_read ON attachments FOR SELECT USING (true)")
    op.execute(f"CREATE POLICY {POLICY}_add ON attachments FOR INSERT WITH CHECK (true)")
    op.execute(
        f"CREATE POLICY {POLICY}_free ON attachments FOR DELETE "
        f"USING ({s}.chatdesk_attachment_unused(id))"
    )


def _adopt_local_user() -> None:
    """The single person's ``local`` user becomes the upgrading login's (unless it has one)."""
    op.execute(
        "UPDATE users SET name = current_user WHERE name = 'local' "
        "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.name = current_user)"
    )


def _functions(s: str) -> None:
    op.execute(
        f"CREATE FUNCTION {s}.chatdesk_user_id() RETURNS integer LANGUAGE sql STABLE "
        f"AS $$ SELECT id FROM {s}.users WHERE name = current_user $$"
    )
    op.execute(
        f"CREATE FUNCTION {s}.chatdesk_user_ids() RETURNS integer[] LANGUAGE sql STABLE "
        f"AS $$ SELECT coalesce(array_agg(id), '{{}}') FROM {s}.users "
        "WHERE login = current_user $$"
    )
    op.execute(SEARCH_FUNCTION.replace("{s}", s))
    op.execute(
        f"CREATE FUNCTION {s}.chatdesk_attachment_unused(attachment integer) "
        "RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER "
        f"SET search_path = pg_catalog, {s}, pg_temp "
        f"AS $$ SELECT NOT EXISTS (SELECT 1 FROM {s}.message_attachments l "
        "WHERE l.attachment_id = attachment) "
        f"AND NOT EXISTS (SELECT 1 FROM {s}.attachment_holds h WHERE h.attachment_id = attachment) "
        f"AND NOT EXISTS (SELECT 1 FROM {s}.thread_knowledge k "
        "WHERE k.attachment_id = attachment) $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in (*BY_USER_ID, *BY_PARENT, "users"):
        op.execute(f"DROP POLICY {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for suffix in ("read", "add", "free"):
        op.execute(f"DROP POLICY {POLICY}_{suffix} ON attachments")
    op.execute("ALTER TABLE attachments DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION chatdesk_search_ids(tsquery, integer, bigint, integer)")
    op.execute("DROP FUNCTION chatdesk_attachment_unused(integer)")
    op.execute("DROP FUNCTION chatdesk_user_ids()")
    op.execute("DROP FUNCTION chatdesk_user_id()")
    op.execute("DROP INDEX ix_users_login")
    op.execute("ALTER TABLE users DROP COLUMN login")
