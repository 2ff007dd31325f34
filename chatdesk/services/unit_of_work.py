"""A short write transaction that publishes its changes only once it has committed.

Transactions are *foreground* (the GUI thread's: every service call by default) or
*background* (a worker's long job cut into short transactions, such as an import).
SQLite has one write lock, which chatdesk's writes take at their start (``BEGIN
IMMEDIATE``), and its busy handler polls with growing sleeps, so a worker that commits
and begins again at once can starve the GUI thread until the busy timeout fails it.
``_Turns`` puts the foreground's writes first: a background transaction starts only
while no foreground write waits or runs, and not until the foreground has been idle
for ``FOREGROUND_GRACE_S``, so a GUI action of several writes in a row waits at most
once, for the one background transaction in progress. Reads begin deferred and read a
snapshot beside any writer: a GUI read takes no turn at all.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from chatdesk.services.announce import announce
from chatdesk.services.errors import NotFoundError, PermissionDeniedError
from chatdesk.services.events import Change, ChangeBus
from chatdesk.services.run_owner import RunOwner, this_process
from chatdesk.services.storage_faults import storage_errors_told
from chatdesk.store.connection import BUSY_TIMEOUT, READ_ONLY
from chatdesk.store.models import Message, Thread

AFTER_COMMIT = "chatdesk.after_commit"
"""``Session.info`` key of the actions ``after_commit`` queued."""
FOREGROUND_GRACE_S = 0.1
"""A background transaction waits until the foreground has been idle this long."""
FOREGROUND_BUSY_TIMEOUT_MS = 100
"""How long a foreground (GUI) write waits for another connection's lock (SQLite's write
lock, PostgreSQL's row locks) before it fails with a busy ``StorageError``: the window
retries later rather than freezing meanwhile."""


class _Turns:
    """Foreground transactions go first; one background transaction at a time."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._foreground = 0  # waiting or running
        self._foreground_ended = 0.0  # time.monotonic() of the last one's end
        self._background = False

    @contextmanager
    def foreground(self) -> Iterator[None]:
        with self._cond:
            self._foreground += 1
            while self._background:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._foreground -= 1
                self._foreground_ended = time.monotonic()
                if not self._foreground:
                    self._cond.notify_all()

    @contextmanager
    def background(self) -> Iterator[None]:
        with self._cond:
            while True:
                if self._foreground or self._background:
                    self._cond.wait()
                    continue
                idle = time.monotonic() - self._foreground_ended
                if idle >= FOREGROUND_GRACE_S:
                    break
                self._cond.wait(FOREGROUND_GRACE_S - idle)
            self._background = True
        try:
            yield
        finally:
            with self._cond:
                self._background = False
                self._cond.notify_all()

    def turn(self, background: bool) -> contextlib.AbstractContextManager[None]:
        return self.background() if background else self.foreground()


class UnitOfWork:
    """Opens sessions for services; the only place services get one from."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        bus: ChangeBus,
        owner: RunOwner | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._turns = _Turns()
        self.bus = bus
        self.owner = owner or this_process()
        """The client these sessions write for: it owns the runs it creates and starts."""
        self.client_id = self.owner.token
        """How this client signs what it announces to others (``services.announce``)."""

    @contextmanager
    def write(self, *, background: bool = False) -> Iterator[tuple[Session, list[Change]]]:
        """One transaction; the changes appended to the list are published after commit.

        ``background``: a worker's transaction, which waits for the GUI's (module doc)
        and for another connection's lock as long as the store allows; a foreground one
        waits for that lock ``FOREGROUND_BUSY_TIMEOUT_MS`` at most. A locked database, a
        full disk and the like raise ``StorageError``, the transaction rolled back. On
        PostgreSQL the changes are also announced to the other clients, by the commit.
        """
        changes: list[Change] = []
        with (
            storage_errors_told(),
            self._turns.turn(background),
            self._session_factory.begin() as session,
        ):
            if not background:
                connection = session.connection(
                    execution_options={BUSY_TIMEOUT: FOREGROUND_BUSY_TIMEOUT_MS}
                )
                if connection.dialect.name == "postgresql":  # row locks of other clients
                    connection.exec_driver_sql(
                        f"SET LOCAL lock_timeout = {FOREGROUND_BUSY_TIMEOUT_MS}"
                    )
            yield session, changes
            announce(session, self.client_id, changes)  # delivered by the commit, or never
        for action in session.info.pop(AFTER_COMMIT, ()):
            action()
        self.bus.publish(changes)

    @contextmanager
    def read(self, *, background: bool = False) -> Iterator[Session]:
        """A session for reading; nothing it does is committed.

        Its transaction starts deferred (``READ_ONLY``): on SQLite it reads a snapshot
        without taking the write lock, so long reads and writes go on side by side.
        A damaged schema or a lost database raises ``StorageError``. A GUI read takes
        no turn: it neither waits for a background transaction that is running (an
        import's chunk) nor holds the next one back, since a snapshot read and a write
        never block each other. (A window polling the database every few milliseconds
        used to keep an import from ever getting its turn.)
        """
        turn = self._turns.background() if background else contextlib.nullcontext()
        with storage_errors_told(), turn, self._session_factory() as session:
            session.connection(execution_options={READ_ONLY: True})
            yield session


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the write transaction of ``session`` has committed, never if
    it rolls back: for work outside the database that must follow the commit, such as
    deleting the file of an attachment row the transaction deleted."""
    session.info.setdefault(AFTER_COMMIT, []).append(action)


def owned_thread(session: Session, user_id: int, thread_id: int) -> Thread:
    """The thread, if it exists and belongs to ``user_id``."""
    thread = session.get(Thread, thread_id)
    if thread is None:
        raise NotFoundError(f"Thread {thread_id} does not exist.")
    if thread.user_id != user_id:
        raise PermissionDeniedError(f"Thread {thread_id} belongs to another user.")
    return thread


def owned_message(session: Session, user_id: int, message_id: int) -> Message:
    """The message, if it exists and belongs to ``user_id``."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFoundError(f"Message {message_id} does not exist.")
    if message.user_id != user_id:
        raise PermissionDeniedError(f"Message {message_id} belongs to another user.")
    return message
