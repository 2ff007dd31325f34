"""One migrating client at a time on a shared PostgreSQL: an advisory lock.

Two clients starting together on an empty database both saw "no tables" and both ran
``CREATE TABLE alembic_version``; one died with a raw duplicate-key error. Whoever
migrates now first takes a PostgreSQL advisory lock with a fixed key; the second
waits, then looks again and finds the schema at head (nothing to do). The migrations'
own environment takes the same lock inside its transaction, so ``alembic upgrade
head`` run by hand and a starting app also wait for each other; a session holding it
already gets it again (advisory locks stack per session). The server frees it when a
client dies, so a killed upgrade never leaves it held. SQLite needs none: its migration
transaction begins with ``BEGIN IMMEDIATE``, one writer at a time.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from chatdesk.store.upgrade_progress import UpgradeMonitor

MIGRATION_LOCK_KEY = 0x63686174_6465736B  # "chatdesk" in ASCII: one key for every client
log = logging.getLogger(__name__)
POLL_SECONDS = 0.2
"""While another client migrates, how often to try again (and to hear a Stop)."""

_TRY = text("SELECT pg_try_advisory_lock(:key)")
_RELEASE = text("SELECT pg_advisory_unlock(:key)")
_IN_TRANSACTION = text("SELECT pg_advisory_xact_lock(:key)")


def take(connection: Connection, monitor: UpgradeMonitor | None = None) -> None:
    """Hold the migration lock on this connection's session until ``release``.

    Waits while another client holds it, telling the monitor once and stopping when
    asked (``UpgradeCancelled``). Each try is its own committed transaction.
    """
    told = False
    while True:
        taken = bool(connection.execute(_TRY, {"key": MIGRATION_LOCK_KEY}).scalar())
        connection.commit()
        if taken:
            return
        if monitor is not None:
            if not told:
                from chatdesk.store.upgrade_progress import Stage, UpgradeStep

                monitor.report(
                    UpgradeStep(Stage.CHECKING, "Waiting for another chatdesk to finish upgrading")
                )
                told = True
            monitor.check()
        time.sleep(POLL_SECONDS)


def release(connection: Connection) -> None:
    """Give the lock back (after the migration's commit or rollback).

    A connection lost meanwhile lost the lock with it: nothing to give back then.
    """
    try:
        if connection.in_transaction():
            connection.rollback()
        connection.execute(_RELEASE, {"key": MIGRATION_LOCK_KEY})
        connection.commit()
    except DBAPIError:
        log.warning("the migration lock went with its lost connection")


def take_in_transaction(connection: Connection) -> None:
    """Hold the lock until this connection's transaction ends (the migrations' env)."""
    if connection.dialect.name == "postgresql":
        connection.execute(_IN_TRANSACTION, {"key": MIGRATION_LOCK_KEY})
