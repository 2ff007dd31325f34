"""One observer interface for every change the services make.

Services publish a ``Change`` after their transaction commits (never before, so an
observer can never see a change that was rolled back). The UI turns changes into Qt
signals; tests and tools can subscribe directly.

Listeners hear changes on the bus's home thread (the one that made it; in the app the
GUI thread), since the Qt models and the coordinator are not thread-safe. A change
committed on another thread (a background import) is handed to the home thread by the
function given to ``deliver_with`` (the UI passes a queued Qt call), keeping the order
in which that thread committed; without one it is delivered on the committing thread, as
plain Python tools expect.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

log = logging.getLogger(__name__)


class ChangeKind(StrEnum):
    """What happened."""

    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    DELETED = "deleted"
    STOP_REQUESTED = "stop_requested"
    """Another client asked this run's owner to stop it (``Entity.EXECUTION``, no record:
    nothing changed yet; the owner's coordinator ends the run, which is the change)."""


class Entity(StrEnum):
    """To what."""

    THREAD = "thread"
    MESSAGE = "message"
    EXECUTION = "execution"
    EXECUTION_LOG = "execution_log"
    PROMPT = "prompt"
    """A saved prompt (``services.prompts``): its ``thread_id`` is 0, it belongs to no chat."""


@dataclass(frozen=True)
class Change:
    """One committed change.

    Attributes:
        kind: created, updated, status_changed or deleted.
        entity: thread, message, execution or execution_log.
        id: the changed row's id.
        thread_id: the thread it belongs to (the thread's own id for threads).
        user_id: the owner.
        fields: the changed values (for status changes also ``old_status``).
        record: the row as it is after the change (None for deletions).
        origin: None for this client's own change; for one another client made on a
            shared database (heard through ``services.live_sync``), that client's id, or
            ``RESYNC`` for a row read again after the connection came back. Only the
            maker of a change acts on it (a run is started by the client that created it).
    """

    kind: ChangeKind
    entity: Entity
    id: int
    thread_id: int
    user_id: int
    fields: Mapping[str, Any] = field(default_factory=dict)
    record: Any = None
    origin: str | None = None


RESYNC = "resync"
"""``Change.origin`` of a row read again after a lost connection came back."""


class ChangeListener(Protocol):
    """Anything that wants to hear about changes."""

    def on_change(self, change: Change) -> None: ...


Post = Callable[[Callable[[], None]], None]
"""Runs a call later on the bus's home thread."""


class ChangeBus:
    """Delivers committed changes to listeners, in order, on the bus's home thread."""

    def __init__(self) -> None:
        self._listeners: list[ChangeListener] = []
        self._home = threading.get_ident()
        self._post: Post | None = None

    @property
    def marshalled(self) -> bool:
        """True once ``deliver_with`` was called."""
        return self._post is not None

    def deliver_with(self, post: Post) -> None:
        """Make the calling thread home; changes from other threads go through ``post``."""
        self._home = threading.get_ident()
        self._post = post

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it again (once or more)."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, changes: Iterable[Change]) -> None:
        """Tell every listener; one failing listener does not silence the others."""
        post = self._post
        if post is not None and threading.get_ident() != self._home:
            batch = list(changes)
            if batch:
                post(lambda: self._deliver(batch))
            return
        self._deliver(changes)

    def _deliver(self, changes: Iterable[Change]) -> None:
        for change in changes:
            for listener in list(self._listeners):
                try:
                    listener.on_change(change)
                except Exception:
                    log.exception("change listener %r failed on %s", listener, change.kind)


class ChangeRecorder:
    """A listener that keeps what it hears (handy in tests and tools)."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def on_change(self, change: Change) -> None:
        self.changes.append(change)
