"""Bring a database to the schema this chatdesk writes, safely.

- a new database is created at head;
- an older one is first backed up (SQLite backup API, 0600) and then upgraded in one
  transaction, so a failed step leaves it as it was;
- one written by a newer chatdesk (a revision this build does not know) is refused
  before anything writes to it: its bytes stay unchanged.

``upgrade_needed`` tells start-up, in a millisecond, whether an existing database will
be upgraded (long on big histories), so it can show progress and run ``open_store`` off
the GUI thread with an ``UpgradeMonitor``. Stopping through the monitor is safe at any
moment: SQLite commits the one migration transaction whole or not at all, so a stop
(or a kill) leaves the database at its old revision, with the backup beside it.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from chatdesk.store.backup import backup_sqlite
from chatdesk.store.connection import create_session_factory, create_store_engine, sqlite_path
from chatdesk.store.errors import (
    BackupUnavailableError,
    DamagedDatabaseError,
    DamagedSchemaError,
    DatabaseTooNewError,
    ForeignWalError,
    MigrationFailedError,
    NotAChatdeskDatabaseError,
    StoreError,
    UpgradeCancelled,
)
from chatdesk.store.grants import (
    foreign_owner,
    login_and_schema,
    schema_grants_missing,
    table_grants_missing,
)
from chatdesk.store.schema import HEAD_REVISION
from chatdesk.store.schema_check import SchemaDamage, find_postgres_damage, find_sqlite_damage
from chatdesk.store.server_access import (
    AccessProblem,
    ServerAccessError,
    missing_grant_error,
    server_errors_explained,
)

if TYPE_CHECKING:
    from alembic.config import Config

    # Loaded only by an upgrade that is watched: start-up at head never needs it.
    from chatdesk.store.upgrade_progress import UpgradeMonitor

VERSION_TABLE = "alembic_version"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseState:
    """What is in a database before chatdesk touches it."""

    revision: str | None
    has_tables: bool
    damage: SchemaDamage | None = None


@dataclass
class Store:
    """An open, up-to-date database: the engine and its session factory."""

    engine: Engine
    session_factory: sessionmaker[Session]
    url: str
    backup: Path | None = None

    def close(self) -> None:
        """Close every pooled connection (SQLite then checkpoints and removes its WAL)."""
        self.engine.dispose()


def migrations_dir() -> Path:
    """The Alembic environment, wherever the package is installed."""
    # Imported by name: the repository's top-level migrations/ is installed under this name.
    package = importlib.import_module("chatdesk.migrations")
    assert package.__file__ is not None
    return Path(package.__file__).parent


def alembic_config() -> Config:
    """An Alembic config pointing at chatdesk's migrations, independent of the cwd."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def known_revisions() -> set[str]:
    """Every revision this build ships."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


def inspect_sqlite_file(path: Path) -> DatabaseState:
    """Read the revision of a SQLite file (and, at head, its damage) without writing to it.

    A ``-wal`` beside it that turns a chatdesk database into something else (one copied
    from another database, or left behind when the file was replaced) is named as the
    cause, not the database.
    """
    if not path.exists() or path.stat().st_size == 0:
        return DatabaseState(revision=None, has_tables=False)
    wal = path.with_name(path.name + "-wal")
    has_wal = wal.exists() and wal.stat().st_size > 0
    # Without a WAL there is nothing beyond the main file to read, and ``immutable``
    # makes SQLite create no -wal/-shm siblings; with one, a plain read-only open sees it.
    try:
        state = _read_sqlite_state(path, "mode=ro" if has_wal else "mode=ro&immutable=1")
    except DamagedDatabaseError:
        if has_wal:
            _refuse_if_wal_is_foreign(path, wal)
        raise
    # Only a view that is no chatdesk database at all blames the -wal: a chatdesk -wal
    # with damage in it holds real commits, and moving it aside would hide them.
    if has_wal and state.revision is None and state.has_tables:
        _refuse_if_wal_is_foreign(path, wal)
    return state


def _read_sqlite_state(path: Path, options: str) -> DatabaseState:
    connection = sqlite3.connect(f"{path.as_uri()}?{options}", uri=True)
    try:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        revision = None
        if VERSION_TABLE in tables:
            row = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
            revision = row[0] if row else None
        damage = find_sqlite_damage(connection) if revision == HEAD_REVISION else None
        return DatabaseState(
            revision=revision, has_tables=bool(tables - {VERSION_TABLE}), damage=damage
        )
    except sqlite3.DatabaseError as error:
        raise DamagedDatabaseError(
            f"{path} cannot be read as a database ({error}). It may be damaged.", str(path)
        ) from error
    finally:
        connection.close()


def _refuse_if_wal_is_foreign(path: Path, wal: Path) -> None:
    """Raise ``ForeignWalError`` when ``path`` alone, without ``wal``, is a whole chatdesk one."""
    try:
        alone = _read_sqlite_state(path, "mode=ro&immutable=1")
    except DamagedDatabaseError:
        return
    if alone.revision is None or alone.damage is not None:
        return
    raise ForeignWalError(
        f"{wal} does not belong to {path}: it holds another database's changes. "
        f"Move {wal} (and {path.name}-shm, if there is one) out of {path.parent}, then "
        "start chatdesk again; chatdesk changed nothing.",
        str(wal),
    )


def inspect_engine(engine: Engine) -> DatabaseState:
    """Read the revision through an engine (servers such as PostgreSQL).

    On PostgreSQL a server's refusal becomes a ``ServerAccessError`` naming it, and so
    does a grant this login lacks for what opening the database will do.
    """
    with server_errors_explained(engine.url), engine.connect() as connection:
        state = inspect_connection(connection)
        connection.rollback()
    return state


def inspect_connection(connection: Connection) -> DatabaseState:
    """``inspect_engine`` on a connection the caller holds (under the migration lock)."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        login, schema = login_and_schema(connection)
        missing = schema_grants_missing(connection, schema, creating=False)
        if missing:
            raise missing_grant_error(login, missing)
    tables = set(inspect(connection).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        if postgres:
            _refuse_missing_grants(connection, login, schema)
        revision = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    elif postgres and not tables:
        missing = schema_grants_missing(connection, schema, creating=True)
        if missing:
            raise missing_grant_error(login, missing)
    damage = None
    if revision == HEAD_REVISION and postgres:
        damage = find_postgres_damage(connection)
    return DatabaseState(
        revision=revision, has_tables=bool(tables - {VERSION_TABLE}), damage=damage
    )


def _refuse_missing_grants(connection: Connection, login: str, schema: str) -> None:
    """Name what this login lacks to use the tables, or to upgrade them (their owner)."""
    missing = table_grants_missing(connection, schema)
    if missing:
        raise missing_grant_error(login, missing)
    revision = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    if revision == HEAD_REVISION or revision not in known_revisions():
        return
    owner = foreign_owner(connection, schema)
    if owner is not None:
        raise ServerAccessError(
            f'The database needs an upgrade, which only the owner of its tables ("{owner}") '
            f'may run; the login "{login}" is not that role. Ask the administrator to run '
            '"alembic upgrade head" as it (docs/TEAM.md); chatdesk changed nothing.',
            AccessProblem.MISSING_GRANT,
            (f"ownership of the tables (role {owner})",),
        )


def _check_state(state: DatabaseState, where: str) -> bool:
    """Raise for databases chatdesk must not touch; True when an upgrade is needed."""
    if state.revision == HEAD_REVISION:
        if state.damage is not None:
            raise DamagedSchemaError(
                f"{where} is damaged: it lacks {state.damage.describe()}.", where, state.damage
            )
        return False
    if state.revision is None:
        if state.has_tables:
            raise NotAChatdeskDatabaseError(
                f"{where} holds tables but no chatdesk schema version; it was left untouched."
            )
        return True
    if state.revision not in known_revisions():
        raise DatabaseTooNewError(
            f"{where} was written by a newer version of chatdesk (schema {state.revision}). "
            "Use that newer version; this one left the database untouched."
        )
    return True


def pending_revisions(current: str | None) -> list[str]:
    """The revisions an upgrade from ``current`` to head runs, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    newest_first = scripts.iterate_revisions("head", current or "base")
    return [script.revision for script in reversed(list(newest_first))]


def upgrade_needed(url: str) -> bool:
    """Whether opening ``url`` upgrades an existing database (a new one is just created).

    Raises, as ``open_store`` would, for databases chatdesk must not touch. Loads
    Alembic only when the database is not at head.
    """
    path = sqlite_path(url)
    if path is not None:
        state = inspect_sqlite_file(path)
    else:
        engine = create_store_engine(url)
        try:
            state = inspect_engine(engine)
        finally:
            engine.dispose()
    return _check_state(state, str(path or "The database")) and state.revision is not None


def _migrate(
    connection: Connection,
    revision: str = "head",
    monitor: UpgradeMonitor | None = None,
    pending: Sequence[str] = (),
) -> None:
    """Run the pending migrations on ``connection``, in its one transaction, and commit."""
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    if monitor is None:
        command.upgrade(config, revision)
    else:
        from chatdesk.store.upgrade_progress import watching_migrations

        with watching_migrations(connection, monitor, pending):
            command.upgrade(config, revision)
    connection.commit()


def upgrade(
    engine: Engine,
    revision: str = "head",
    monitor: UpgradeMonitor | None = None,
    pending: Sequence[str] = (),
) -> None:
    """Run the pending migrations on ``engine`` in one transaction.

    With a ``monitor``, each of the ``pending`` revisions is reported as it starts, and
    a stop rolls the transaction back.
    """
    try:
        with engine.connect() as connection:
            _migrate(connection, revision, monitor, pending)
    finally:
        # Migration connections had their pragmas toggled: never hand them out again.
        engine.dispose()


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to ``revision`` (tests and the bench make older histories
    this way: the models describe only the newest schema)."""
    from alembic import command

    config = alembic_config()
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def open_store(
    url: str,
    backup_dir: Path | None = None,
    monitor: UpgradeMonitor | None = None,
    *,
    without_backup: bool = False,
) -> Store:
    """Open the database at ``url``, creating or upgrading it as needed.

    ``monitor`` hears each step and may stop the upgrade: then ``UpgradeCancelled`` is
    raised and the database is as it was (a backup already made is kept).

    On PostgreSQL an existing database is backed up with ``pg_dump`` before an upgrade;
    when none can be made, ``BackupUnavailableError`` is raised (nothing changed) unless
    ``without_backup`` says the person agreed to go on without one. Creating and
    upgrading happen under the migration lock (``migration_lock.py``).
    """
    path = sqlite_path(url)
    backup: Path | None = None
    if monitor is not None:
        from chatdesk.store.upgrade_progress import Stage, UpgradeStep

        monitor.report(UpgradeStep(Stage.CHECKING, "Checking your chat history"))
    if path is None:
        return _open_server_store(url, backup_dir, monitor, without_backup)
    state = inspect_sqlite_file(path)
    needs_upgrade = _check_state(state, str(path))
    if needs_upgrade and state.revision is not None and backup_dir is not None:
        backup = backup_sqlite(
            path,
            backup_dir,
            label=f"before-{HEAD_REVISION}",
            progress=monitor.on_backup_progress if monitor is not None else None,
        )
    engine = create_store_engine(url)
    if needs_upgrade:
        try:
            if monitor is None:
                upgrade(engine)
            else:
                monitor.check()
                upgrade(engine, monitor=monitor, pending=pending_revisions(state.revision))
        except Exception as error:
            engine.dispose()
            raise _upgrade_failure(error, monitor, backup) from error
    return Store(
        engine=engine, session_factory=create_session_factory(engine), url=url, backup=backup
    )


def _upgrade_failure(
    error: Exception, monitor: UpgradeMonitor | None, backup: Path | None
) -> StoreError:
    kept = f" A backup was kept at {backup}." if backup else ""
    if isinstance(error, StoreError) and not isinstance(error, UpgradeCancelled):
        return error
    if monitor is not None and monitor.stop_requested:
        return UpgradeCancelled(
            "The upgrade was stopped and rolled back; the database is as it was." + kept
        )
    return MigrationFailedError(
        f"Upgrading the database failed and was rolled back: {error}" + kept
    )


def _open_server_store(
    url: str, backup_dir: Path | None, monitor: UpgradeMonitor | None, without_backup: bool
) -> Store:
    """``open_store`` on a server: check, then (under the lock) look again, back up, migrate."""
    engine = create_store_engine(url)
    backup: Path | None = None
    try:
        state = inspect_engine(engine)
        if _check_state(state, "The database"):
            backup = _upgrade_server(engine, backup_dir, monitor, without_backup)
    except BaseException:
        engine.dispose()
        raise
    return Store(
        engine=engine, session_factory=create_session_factory(engine), url=url, backup=backup
    )


def _upgrade_server(
    engine: Engine, backup_dir: Path | None, monitor: UpgradeMonitor | None, without_backup: bool
) -> Path | None:
    """Create or upgrade under the migration lock; another client may have done it first."""
    from chatdesk.store import migration_lock

    backup: Path | None = None
    with server_errors_explained(engine.url), engine.connect() as connection:
        migration_lock.take(connection, monitor)
        try:
            state = inspect_connection(connection)
            connection.rollback()
            if not _check_state(state, "The database"):
                return None  # another client migrated while this one waited
            if state.revision is not None and backup_dir is not None:
                backup = _backup_server(engine, backup_dir, monitor, without_backup)
            if monitor is not None:
                monitor.check()
            _migrate(connection, "head", monitor, pending_revisions(state.revision))
        except Exception as error:
            raise _upgrade_failure(error, monitor, backup) from error
        finally:
            migration_lock.release(connection)
    return backup


def _backup_server(
    engine: Engine, backup_dir: Path, monitor: UpgradeMonitor | None, without_backup: bool
) -> Path | None:
    from chatdesk.store.pg_backup import backup_postgres

    try:
        return backup_postgres(engine, backup_dir, f"before-{HEAD_REVISION}", monitor)
    except BackupUnavailableError as error:
        if not without_backup:
            raise
        log.warning("upgrading without a backup, as agreed: %s", error)
        return None
