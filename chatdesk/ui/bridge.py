"""Turns the services' change bus into Qt signals.

Services publish each committed ``Change`` after the commit. The bus's listeners must
hear it on the GUI thread even when a worker thread wrote it (a background import), so
the first ``ChangeSignals`` gives the bus a queued Qt call to the GUI thread. Models
connect to these signals and update incrementally (insert, move, dataChanged) instead
of re-reading the database.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Signal

from chatdesk.services.events import Change, ChangeBus, ChangeKind, Entity
from chatdesk.ui.tasks import gui_thread_calls


class _Relay:
    """The bus's listener; forwards to the QObject only while its C++ side exists."""

    def __init__(self, bus: ChangeBus, target: ChangeSignals) -> None:
        self.target: ChangeSignals | None = target
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self)

    def on_change(self, change: Change) -> None:
        target = self.target
        if target is not None and shiboken6.isValid(target):
            target.on_change(change)

    def close(self) -> None:
        self.target = None
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()


class ChangeSignals(QObject):
    """One Qt signal per kind of entity, for the changes of one user.

    Signals:
        thread_changed: a thread was created, updated or deleted (Change).
        message_changed: a message was created, edited, changed status or deleted (Change).
        execution_changed: an execution was created or changed (Change).
        execution_log_changed: an execution log row was added (Change).
    """

    thread_changed = Signal(object)
    message_changed = Signal(object)
    execution_changed = Signal(object)
    execution_log_changed = Signal(object)

    def __init__(self, bus: ChangeBus, user_id: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._user_id = user_id
        if not bus.marshalled:
            bus.deliver_with(gui_thread_calls().post)
        relay = _Relay(bus, self)
        self._relay = relay
        self.destroyed.connect(lambda *_: relay.close())

    def on_change(self, change: Change) -> None:
        """Called by the bus after a commit; re-emits the change as Qt signals."""
        if self._user_id is not None and change.user_id != self._user_id:
            return
        if change.kind is ChangeKind.STOP_REQUESTED:
            return  # for the coordinator that runs it; nothing changed yet
        if change.entity is Entity.THREAD:
            self.thread_changed.emit(change)
        elif change.entity is Entity.MESSAGE:
            self.message_changed.emit(change)
        elif change.entity is Entity.EXECUTION:
            self.execution_changed.emit(change)
        elif change.entity is Entity.EXECUTION_LOG:
            self.execution_log_changed.emit(change)

    def close(self) -> None:
        """Stop listening to the bus (safe to call twice)."""
        self._relay.close()


class SyncState(QObject):
    """Whether this client hears the other desktops of a shared database, on the GUI
    thread (the listener reports from its own thread).

    Signals:
        online_changed(bool): the connection that hears the others was lost or is back.
    """

    online_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._post = gui_thread_calls().post

    def report(self, online: bool) -> None:
        """Callable from any thread."""
        self._post(lambda: self._emit(online))

    def _emit(self, online: bool) -> None:
        if shiboken6.isValid(self):
            self.online_changed.emit(online)
