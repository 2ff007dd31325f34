"""Live on every desktop: other clients' changes become this client's ``Change`` events.

On PostgreSQL every commit announces its changes (``services.announce``). ``LiveSync``
hears them on a dedicated connection (``store.listen``), drops its own, reads the rows
again by id (one query per entity and batch, on a reader session) and publishes the
same changes the writer published, marked with the writer's ``origin``, on the bus, which
hands them to the GUI thread. A deleted row is published DELETED without a record.

When the connection is lost the window is told (``on_state``); once it is back (and at
the first connection, for what changed since ``start``, while the window read), every
thread, message and run that changed since the last moment this client was surely
listening (the database's clock, less ``CLOCK_SLACK``: rows carry their writer's clock)
is read again and published with ``origin = RESYNC``, and so is the deletion of every
thread known before (listed at each connect, then followed on the bus) that is gone.
(Messages deleted meanwhile inside a chat that is still there are not found this way.)

A stop request addressed to this client becomes a ``STOP_REQUESTED`` change, which the
coordinator owning the run acts on. On SQLite nothing of this runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import URL

from chatdesk.services.announce import CHANNEL, Announced, StopRequest, decode, send_stop
from chatdesk.services.errors import NotFoundError
from chatdesk.services.events import RESYNC, Change, ChangeBus, ChangeKind, Entity
from chatdesk.services.executions import ExecutionService
from chatdesk.services.leases import LIVE, database_now, orphaned, take_over
from chatdesk.services.run_owner import RunOwner, this_process
from chatdesk.services.sync_reads import (
    announced_change,
    changed_since,
    deleted_change,
    read_again,
)
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.listen import Listener
from chatdesk.store.migrate import Store
from chatdesk.store.models import Execution, Thread
from chatdesk.vocabulary import ExecutionStatus

log = logging.getLogger(__name__)

CLOCK_SLACK = timedelta(seconds=30)
"""Rows carry the clock of the client that wrote them: read a little further back."""

StateListener = Callable[[bool], None]


class LiveSync:
    """Hears the other clients of a shared PostgreSQL database (see the module doc)."""

    def __init__(
        self,
        store: Store,
        bus: ChangeBus,
        owner: RunOwner | None = None,
        *,
        listen_url: URL | None = None,
    ) -> None:
        self._uow = UnitOfWork(store.session_factory, bus, owner or this_process())
        self._bus = bus
        self._executions = ExecutionService(self._uow)
        self._url = listen_url or store.engine.url
        """Where the listening connection goes: the store's server unless told."""
        self.enabled = store.engine.dialect.name == "postgresql"
        self._listener: Listener | None = None
        self._state_listeners: list[StateListener] = []
        self._lock = threading.Lock()
        self._heard_until: datetime | None = None  # database time, all heard before it
        self._threads: dict[int, int] | None = None  # every thread's user, as last known
        self._unsubscribe: Callable[[], None] | None = None
        self.online: bool | None = None
        """None before the first connection; then whether this client hears the others."""

    @property
    def client_id(self) -> str:
        return self._uow.client_id

    @property
    def listener(self) -> Listener | None:
        return self._listener

    def on_state(self, listener: StateListener) -> None:
        """Call ``listener(online)`` (on the listening thread) whenever that changes."""
        self._state_listeners.append(listener)

    def start(self) -> None:
        """Start listening (PostgreSQL only; a no-op on SQLite)."""
        if not self.enabled or self._listener is not None:
            return
        try:  # what changes before the first LISTEN is read again once it listens
            with self._uow.read() as session:
                self._heard_until = database_now(session)
        except Exception:
            log.exception("could not read the database's clock")
        self._unsubscribe = self._bus.subscribe(self)
        self._listener = Listener(
            self._url,
            CHANNEL,
            on_batch=self._on_batch,
            on_state=self._on_state,
            on_alive=self._on_alive,
            name=f"chatdesk-listen-{self.client_id}",
        )
        self._listener.start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def on_change(self, change: Change) -> None:
        """Bus listener: keeps the threads known, to tell which went while offline."""
        if change.entity is not Entity.THREAD:
            return
        with self._lock:
            if self._threads is None:
                return
            if change.kind is ChangeKind.DELETED:
                self._threads.pop(change.id, None)
            else:
                self._threads[change.id] = change.user_id

    # -- stop requests -------------------------------------------------------------------

    def request_stop(self, user_id: int, execution_id: int) -> bool:
        """Ask the client running this run to stop it; False when nothing is to stop
        (the run has ended, or this is SQLite, where every run is this client's).

        A run whose owner is gone (crashed, or frozen past its lease) has nobody to ask:
        this client takes it over and ends it as cancelled, its text kept.
        """
        if not self.enabled:
            return False
        me = self._uow.owner
        with self._uow.write() as (session, _changes):
            found = session.execute(
                select(Execution, Thread.user_id)
                .join(Thread, Thread.id == Execution.thread_id)
                .where(Execution.id == execution_id)
            ).one_or_none()
            if found is None or found.user_id != user_id:
                raise NotFoundError(f"Run {execution_id} does not exist.")
            execution: Execution = found[0]
            if execution.status not in LIVE:
                return False
            if execution.owner != str(me) and orphaned(execution, database_now(session), me):
                taken = take_over(session, execution, me)
            else:
                taken = False
                request = StopRequest(
                    execution_id, execution.thread_id, user_id, str(execution.owner)
                )
                send_stop(session, self.client_id, request)
        if taken:
            log.info("run %s had no live owner: ended here", execution_id)
            self._executions.finish(user_id, execution_id, ExecutionStatus.CANCELLED)
        return True

    # -- the listening thread ------------------------------------------------------------

    def _on_state(self, online: bool) -> None:
        if online:
            threads = self._thread_users()
            if self.online is not True:  # listening (again): read what was missed
                self._resync(threads)
            with self._lock:
                self._threads = threads
        if online != self.online:
            self.online = online
            for listener in list(self._state_listeners):
                try:
                    listener(online)
                except Exception:
                    log.exception("a sync state listener failed")

    def _on_alive(self, now: datetime) -> None:
        with self._lock:
            self._heard_until = now

    def _on_batch(self, payloads: Sequence[str]) -> None:
        announced: list[tuple[str, Announced]] = []
        for payload in payloads:
            try:
                announcement = decode(payload)
            except ValueError as error:
                log.warning(
                    "ignored a notification on %s that chatdesk did not send (%s): %.200r",
                    CHANNEL,
                    error,
                    payload,
                )
                continue
            if announcement.sender == self.client_id:
                continue
            if announcement.stop is not None:
                self._stop_requested(announcement.sender, announcement.stop)
            announced.extend((announcement.sender, change) for change in announcement.changes)
        if announced:
            self._publish(announced)

    def _stop_requested(self, sender: str, request: StopRequest) -> None:
        if request.owner != str(self._uow.owner):
            return
        self._bus.publish(
            [
                Change(
                    ChangeKind.STOP_REQUESTED,
                    Entity.EXECUTION,
                    request.execution_id,
                    request.thread_id,
                    request.user_id,
                    origin=sender,
                )
            ]
        )

    def _publish(self, announced: Sequence[tuple[str, Announced]]) -> None:
        """Read the announced rows again and publish them, in the order announced. A
        deletion counts only when the row is indeed gone."""
        wanted: dict[Entity, set[int]] = {}
        for _sender, change in announced:
            wanted.setdefault(change.entity, set()).add(change.id)
        try:
            with self._uow.read(background=False) as session:
                found = read_again(session, wanted)
        except Exception:  # a lost server or a bad row: the listener goes on regardless
            log.exception("could not read what another desktop changed")
            return
        changes = []
        for sender, change in announced:
            row = found.get((change.entity, change.id))
            if change.kind is ChangeKind.DELETED:
                if row is None:
                    changes.append(deleted_change(change, sender))
            elif row is not None:  # else gone meanwhile: its deletion is on its way
                changes.append(announced_change(change.kind, change.entity, *row, sender))
        self._bus.publish(changes)

    def _thread_users(self) -> dict[int, int] | None:
        """Every thread's user now (None when it cannot be read)."""
        try:
            with self._uow.read() as session:
                rows = session.execute(select(Thread.id, Thread.user_id))
                return {thread_id: user_id for thread_id, user_id in rows}
        except Exception:
            log.exception("could not list the threads")
            return None

    def _resync(self, threads: dict[int, int] | None) -> None:
        """Publish every row changed since this client last surely heard everything, and
        the threads deleted meanwhile (DELETED, as if heard)."""
        with self._lock:
            since = self._heard_until
            known = dict(self._threads) if self._threads is not None else None
        if since is None:
            return
        since -= CLOCK_SLACK
        try:
            with self._uow.read() as session:
                changes = list(changed_since(session, since))
        except Exception:
            log.exception("could not read what changed while offline")
            return
        if known is not None and threads is not None:
            changes += [
                Change(ChangeKind.DELETED, Entity.THREAD, id_, id_, user, origin=RESYNC)
                for id_, user in sorted(known.items())
                if id_ not in threads
            ]
        log.info("back online: %d changes read again", len(changes))
        self._bus.publish(changes)
