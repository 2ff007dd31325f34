"""Owner + lease on every live run, so clients sharing one database never take each
other's runs.

A client claims a run when it creates or starts it and keeps the claim alive while the
run lives (each text save, step batch and end, and a timer for runs that stream
nothing). Every write for a run first renews its lease with a conditional UPDATE
(``owner`` still this client): if another client has taken the run over, nothing is
written and ``LeaseLostError`` says so. Expiry is always compared on the database's
clock, never a client's, so clients whose clocks disagree still agree on expiry.

Recovery takes over a run only when it is orphaned (no owner, an expired lease, or an
owner provably gone), and the take-over is itself conditional on the owner and lease
it saw, so two recovering clients never both take one run.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import CursorResult, func, select, text, update
from sqlalchemy.orm import Session

from chatdesk.services.errors import ServiceError
from chatdesk.services.run_owner import RunOwner
from chatdesk.store.models import Execution
from chatdesk.vocabulary import ACTIVE_EXECUTION_STATUSES

LEASE_S = 60.0
"""How long a claim lasts unless renewed: a client frozen this long loses its runs."""
RENEW_EVERY_S = 15.0
"""How often a client renews the leases of runs that write nothing meanwhile."""
SWEEP_EVERY_S = 30.0
"""How often a running client looks for other clients' runs whose lease ran out."""
LIVE = ACTIVE_EXECUTION_STATUSES


class LeaseLostError(ServiceError):
    """Another chatdesk took this run over (this one stalled past its lease)."""


def database_now(session: Session) -> datetime:
    """The database server's current time (UTC): the one clock all clients share."""
    if session.get_bind().dialect.name == "sqlite":
        stamp = session.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return datetime.fromisoformat(str(stamp)).replace(tzinfo=UTC)
    now = session.execute(select(func.now())).scalar_one()
    assert isinstance(now, datetime)
    return now.astimezone(UTC)


def lease_until(session: Session) -> datetime:
    """When a claim made now runs out."""
    return database_now(session) + timedelta(seconds=LEASE_S)


def hold(session: Session, execution_id: int, owner: RunOwner) -> None:
    """Renew this client's lease on a live run, or raise ``LeaseLostError``.

    Does nothing to a run that has no owner or is no longer live: the caller's own
    checks then report what is wrong (not found, already ended).
    """
    lost = renew(session, [execution_id], owner)
    if lost:
        raise LeaseLostError(
            "Another chatdesk took over this reply while this one was not responding; "
            "its result is kept there."
        )


def renew(session: Session, execution_ids: Collection[int], owner: RunOwner) -> set[int]:
    """Renew the leases this client holds; the ids another client has taken over."""
    if not execution_ids:
        return set()
    me = str(owner)
    result = session.execute(
        update(Execution)
        .where(
            Execution.id.in_(execution_ids),
            Execution.owner == me,
            Execution.status.in_(LIVE),
        )
        .values(lease_expires_at=lease_until(session))
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount == len(execution_ids):
        return set()
    rows = session.execute(
        select(Execution.id, Execution.owner).where(Execution.id.in_(execution_ids))
    )
    return {row.id for row in rows if row.owner is not None and row.owner != me}


def claim(session: Session, execution: Execution, owner: RunOwner) -> None:
    """Make this client the owner of a run it creates or starts, with a fresh lease."""
    execution.owner = str(owner)
    execution.lease_expires_at = lease_until(session)


def orphaned(execution: Execution, now: datetime, owner: RunOwner) -> bool:
    """True when no live client holds the run, so recovery may take it over.

    A run of this very process is orphaned too: recovery runs at start-up, before this
    client starts any run of its own.
    """
    if execution.owner is None or execution.owner == str(owner):
        return True
    if execution.lease_expires_at is None or execution.lease_expires_at <= now:
        return True
    previous = RunOwner.parse(execution.owner)
    return previous is not None and previous.is_gone()


def take_over(session: Session, execution: Execution, owner: RunOwner) -> bool:
    """Claim an orphaned run, unless another client changed its owner or lease first."""
    result = session.execute(
        update(Execution)
        .where(
            Execution.id == execution.id,
            Execution.status.in_(LIVE),
            Execution.owner.is_not_distinct_from(execution.owner),
            Execution.lease_expires_at.is_not_distinct_from(execution.lease_expires_at),
        )
        .values(owner=str(owner), lease_expires_at=lease_until(session))
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        return False
    session.refresh(execution)
    return True
