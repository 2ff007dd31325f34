"""A short write transaction that publishes its changes only once it has committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from chatdesk.services.errors import NotFoundError, PermissionDeniedError
from chatdesk.services.events import Change, ChangeBus
from chatdesk.store.models import Message, Thread


class UnitOfWork:
    """Opens sessions for services; the only place services get one from."""

    def __init__(self, session_factory: sessionmaker[Session], bus: ChangeBus) -> None:
        self._session_factory = session_factory
        self.bus = bus

    @contextmanager
    def write(self) -> Iterator[tuple[Session, list[Change]]]:
        """One transaction; the changes appended to the list are published after commit."""
        changes: list[Change] = []
        with self._session_factory.begin() as session:
            yield session, changes
        self.bus.publish(changes)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with self._session_factory() as session:
            yield session


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
