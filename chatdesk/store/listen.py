"""A dedicated PostgreSQL connection that LISTENs for the other clients' announcements.

It lives on a daemon thread of its own: psycopg's ``notifies()`` waits with a timeout,
so ``stop()`` ends it within ``POLL_S``. Notifications that arrive together are handed
over as one batch (``on_batch``, on this thread). Every ``HEARTBEAT_S`` the connection
asks the server for its time: that finds a dead connection the network did not report,
and tells the caller (``on_alive``) up to when it has heard everything. A lost
connection is reported (``on_state(False)``), opened again with a growing pause, and
once it listens again ``on_state(True)`` lets the caller read what it missed.

Only the payload strings cross this module's edge: what they mean is the services'.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

POLL_S = 0.25
"""How long one wait for notifications lasts: ``stop()`` is heard within this."""
HEARTBEAT_S = 5.0
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Pauses before the attempts to connect again (the last one repeats)."""
CONNECT_TIMEOUT_S = 5


class Listener:
    """LISTENs on ``channel`` until stopped; reconnects whenever the connection is lost."""

    def __init__(
        self,
        url: URL,
        channel: str,
        *,
        on_batch: Callable[[list[str]], None],
        on_state: Callable[[bool], None],
        on_alive: Callable[[datetime], None],
        name: str = "chatdesk-listen",
    ) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._channel = channel
        self._on_batch = on_batch
        self._on_state = on_state
        self._on_alive = on_alive
        self.name = name
        """The connection's ``application_name`` (tests find it in pg_stat_activity)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.backend_pid: int | None = None
        """The server process of the current connection (None while there is none)."""

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the thread and close its connection (safe to call twice)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        failures = 0
        online = False
        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    failures = 0
                    online = True
                    self._on_state(True)
                    self._listen(connection)
            except psycopg.Error as error:
                if self._stop.is_set():
                    break
                if online or failures == 0:
                    log.warning("cannot hear the other desktops: %s", error)
            except Exception:  # a bug in a callback must not end live updates for good
                log.exception("the listener failed; starting again")
            finally:
                self.backend_pid = None
            if self._stop.is_set():
                break
            if online or failures == 0:  # what it missed is read again once back
                online = False
                self._on_state(False)
            self._stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        connection = psycopg.connect(
            self._conninfo,
            autocommit=True,
            application_name=self.name,
            connect_timeout=CONNECT_TIMEOUT_S,
        )
        try:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self.backend_pid = connection.info.backend_pid
        except BaseException:
            connection.close()
            raise
        return connection

    def _listen(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        self._heartbeat(connection)
        beat = time.monotonic()
        while not self._stop.is_set():
            batch = [n.payload for n in connection.notifies(timeout=POLL_S, stop_after=1)]
            if batch:  # and whatever came with it, without waiting
                batch += [n.payload for n in connection.notifies(timeout=0)]
                self._on_batch(batch)
            if time.monotonic() - beat >= HEARTBEAT_S:
                self._heartbeat(connection)
                beat = time.monotonic()

    def _heartbeat(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        row = connection.execute("SELECT now()").fetchone()
        if row is not None and isinstance(row[0], datetime):
            self._on_alive(row[0].astimezone(UTC))
