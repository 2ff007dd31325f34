"""One observer interface for every change the services make.

Services publish a ``Change`` after their transaction commits (never before, so an
observer can never see a change that was rolled back). The UI turns changes into Qt
signals; tests and tools can subscribe directly.
"""

from __future__ import annotations

import logging
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


class Entity(StrEnum):
    """To what."""

    THREAD = "thread"
    MESSAGE = "message"
    EXECUTION = "execution"
    EXECUTION_LOG = "execution_log"


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
    """

    kind: ChangeKind
    entity: Entity
    id: int
    thread_id: int
    user_id: int
    fields: Mapping[str, Any] = field(default_factory=dict)
    record: Any = None


class ChangeListener(Protocol):
    """Anything that wants to hear about changes."""

    def on_change(self, change: Change) -> None: ...


class ChangeBus:
    """Delivers committed changes to listeners, in order, on the caller's thread."""

    def __init__(self) -> None:
        self._listeners: list[ChangeListener] = []

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it again (once or more)."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, changes: Iterable[Change]) -> None:
        """Tell every listener; one failing listener does not silence the others."""
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
