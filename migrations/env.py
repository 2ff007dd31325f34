"""Alembic environment for chatdesk.

The connection comes from, in order: one handed over by the app
(``config.attributes["connection"]``), ``CHATDESK_DATABASE_URL``, the app's default
database. On PostgreSQL the migrations run under the migration lock
(``chatdesk.store.migration_lock``), whether the app or ``alembic upgrade head`` runs
them. On SQLite, foreign keys are switched off around the migration (batch mode
rebuilds tables, which enforced keys would trip over) and ``PRAGMA foreign_key_check``
must come back empty before the single migration transaction commits.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from chatdesk.config import database_url
from chatdesk.store.connection import create_store_engine
from chatdesk.store.migration_lock import take_in_transaction
from chatdesk.store.models import Base

config = context.config
target_metadata = Base.metadata

# Search structures are made by raw DDL in the migrations (FTS5 tables and their shadow
# tables, a PostgreSQL expression index): they are not in the models on purpose.
SEARCH_OBJECTS_PREFIXES = ("messages_fts", "ix_messages_content_search")


# Row-level security's column and index (migration 0013, PostgreSQL only): the policies
# use them, the models do not (``users.login`` fills itself with ``current_user``).
PRIVACY_OBJECTS = {("column", "users", "login"), ("index", "users", "ix_users_login")}


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    table = parent_names.get("table_name") if isinstance(parent_names, dict) else None
    if (type_, table, name) in PRIVACY_OBJECTS:
        return False
    return not (name and name.startswith(SEARCH_OBJECTS_PREFIXES))


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection is not None else (url or "").split(":")[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),
        # chatdesk's SQLite connections leave transactions to SQLite itself (pysqlite's
        # implicit commits are off), so all pending revisions run in ONE transaction
        # there too; Alembic would otherwise commit after each revision on SQLite.
        transactional_ddl=True,
        compare_type=True,
        include_name=_include_name,
        literal_binds=connection is None,
    )


def _set_sqlite_foreign_keys(connection: Connection, enabled: bool) -> None:
    """Issue the PRAGMA on the raw connection: inside a transaction SQLite ignores it."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")


def _run_on(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _set_sqlite_foreign_keys(connection, False)
    try:
        _configure(connection=connection)
        # PostgreSQL: one migrating client at a time; a second waits, then finds head.
        take_in_transaction(connection)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"foreign key check failed after migrating: {broken[:5]}")
        if connection.in_transaction():  # Alembic leaves a handed-over transaction open
            connection.commit()
    finally:
        if sqlite:
            _set_sqlite_foreign_keys(connection, True)


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url") or database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    handed_over = config.attributes.get("connection")
    if handed_over is not None:
        _run_on(handed_over)
        return
    engine = create_store_engine(database_url())
    try:
        with engine.connect() as connection:
            _run_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
