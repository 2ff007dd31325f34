"""Owner + lease: clients sharing one database recover only runs whose owner is gone.

Each test runs on a SQLite file and on PostgreSQL. "Another desktop" is a client whose
owner id names another host, so only its lease speaks for it; a client on this host
is a real process, killed for real.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from chatdesk.services import Services
from chatdesk.services.executions import INTERRUPTED_ERROR, LogEntry
from chatdesk.services.leases import LeaseLostError, take_over
from chatdesk.services.run_owner import RunOwner, this_process
from chatdesk.store.migrate import Store
from chatdesk.store.models import Execution
from chatdesk.vocabulary import ExecutionStatus, MessageStatus
from tests.support.processes import die_with_parent

REPO = Path(__file__).resolve().parents[2]
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _desktop(name: str) -> RunOwner:
    return RunOwner(host=name, boot_id="b00t", pid=4242, started="77", token=name)


def _running(services: Services, text: str = "half an ans") -> tuple[int, int, int]:
    """A run started and partly written by ``services``: (user, execution, reply) ids."""
    user = services.users.ensure()
    thread = services.threads.create(user, "shared")
    sent = services.messages.send(user, thread.id, "question")
    assert sent.execution is not None
    run = services.executions.start(user, sent.execution.id)
    services.executions.save_text(user, run.reply.id, text)
    return user, sent.execution.id, run.reply.id


def _expire(store: Store, execution_id: int) -> None:
    """The lease ran out (its owner froze, or its host vanished)."""
    with store.session_factory.begin() as session:
        session.execute(
            update(Execution).where(Execution.id == execution_id).values(lease_expires_at=LONG_AGO)
        )


def _execution(store: Store, execution_id: int) -> Execution:
    with store.session_factory() as session:
        row = session.get(Execution, execution_id)
        assert row is not None
        return row


def test_a_live_clients_run_is_left_alone_and_completes(store: Store) -> None:
    first = Services(store, owner=_desktop("desk-a"))
    user, execution_id, reply_id = _running(first)
    second = Services(store)  # another client starting up on the same database
    assert second.executions.recover_interrupted() == 0
    first.executions.save_text(user, reply_id, "half an answer, and")
    first.executions.finish(
        user, execution_id, ExecutionStatus.COMPLETED, text="half an answer, and the rest"
    )
    reply = second.messages.get(user, reply_id)
    assert (reply.status, reply.content) == (
        MessageStatus.COMPLETED,
        "half an answer, and the rest",
    )
    assert "interrupted" not in reply.metadata
    assert _execution(store, execution_id).owner == str(_desktop("desk-a"))


def test_an_expired_lease_is_taken_over_and_the_frozen_owners_writes_are_refused(
    store: Store,
) -> None:
    frozen = Services(store, owner=_desktop("desk-a"))
    user, execution_id, reply_id = _running(frozen)
    _expire(store, execution_id)
    rescuer = Services(store, owner=_desktop("desk-b"))
    assert rescuer.executions.recover_interrupted() == 1
    with pytest.raises(LeaseLostError, match="Another chatdesk took over"):
        frozen.executions.save_text(user, reply_id, "half an answer written late")
    with pytest.raises(LeaseLostError):
        frozen.executions.append_logs(user, execution_id, [LogEntry("late_step")])
    with pytest.raises(LeaseLostError):
        frozen.executions.finish(user, execution_id, ExecutionStatus.COMPLETED, text="late")
    assert frozen.executions.renew_leases([execution_id]) == {execution_id}
    reply = rescuer.messages.get(user, reply_id)
    assert (reply.status, reply.content) == (MessageStatus.FAILED, "half an ans")
    assert reply.metadata == {"error": INTERRUPTED_ERROR, "interrupted": True}
    assert rescuer.executions.logs(user, execution_id) == []
    execution = _execution(store, execution_id)
    assert (execution.status, execution.owner) == (ExecutionStatus.FAILED, str(_desktop("desk-b")))


def test_renewing_pushes_the_lease_on_the_databases_clock(store: Store) -> None:
    client = Services(store, owner=_desktop("desk-a"))
    _user, execution_id, _reply = _running(client)
    _expire(store, execution_id)
    assert client.executions.renew_leases([execution_id]) == set()
    renewed = _execution(store, execution_id).lease_expires_at
    assert renewed is not None and renewed > datetime.now(UTC)  # 60 s ahead, not in 2000
    assert Services(store).executions.recover_interrupted() == 0


def test_a_take_over_is_refused_once_the_run_changed_hands_or_was_renewed(
    store: Store,
) -> None:
    owner = Services(store, owner=_desktop("desk-a"))
    user, execution_id, reply_id = _running(owner)
    _expire(store, execution_id)
    seen_by_late = _execution(store, execution_id)  # what a slower recovering client read
    owner.executions.renew_leases([execution_id])  # ...before its owner woke up
    with store.session_factory.begin() as session:
        assert not take_over(session, seen_by_late, _desktop("desk-c"))
    owner.executions.save_text(user, reply_id, "still mine")
    _expire(store, execution_id)
    seen_by_late = _execution(store, execution_id)
    assert Services(store, owner=_desktop("desk-b")).executions.recover_interrupted() == 1
    with store.session_factory.begin() as session:
        assert not take_over(session, seen_by_late, _desktop("desk-c"))
    assert _execution(store, execution_id).owner == str(_desktop("desk-b"))


def test_runs_from_before_owners_are_recovered(store: Store) -> None:
    services = Services(store)
    _user, execution_id, _reply = _running(services)
    with store.session_factory.begin() as session:
        session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(owner=None, lease_expires_at=None)
        )
    assert Services(store, owner=_desktop("desk-b")).executions.recover_interrupted() == 1


OWNER = """
import sys, time
from chatdesk.services import Services
from chatdesk.store.migrate import open_store
services = Services(open_store(sys.argv[1]))
user = services.users.ensure()
thread = services.threads.create(user, "held by a process")
sent = services.messages.send(user, thread.id, "question")
run = services.executions.start(user, sent.execution.id)
services.executions.save_text(user, run.reply.id, "half an answer")
print(sent.execution.id, flush=True)
time.sleep(300)
"""


def test_a_killed_owners_run_is_recovered_at_once(store: Store) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", OWNER, store.url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(),
    ) as owner:
        try:
            assert owner.stdout is not None
            execution_id = int(owner.stdout.readline())
            services = Services(store)
            assert services.executions.recover_interrupted() == 0  # alive: its run is its own
            owner.send_signal(signal.SIGKILL)
            owner.wait(timeout=30)
            # Its lease still runs for a minute, but its process is provably gone.
            assert services.executions.recover_interrupted() == 1
        finally:
            owner.kill()
            owner.wait(timeout=30)
    with store.session_factory() as session:
        execution = session.scalar(select(Execution).where(Execution.id == execution_id))
        assert execution is not None
        assert (execution.status, execution.error) == (ExecutionStatus.FAILED, INTERRUPTED_ERROR)


def test_an_owner_is_gone_only_when_provably_so() -> None:
    here = this_process()
    assert not here.is_gone()
    assert RunOwner.parse(str(here)) == here
    assert RunOwner.parse("an older client") is None
    assert not _desktop("elsewhere").is_gone()  # another host: only its lease can tell
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=die_with_parent()
    )
    try:
        live = RunOwner(here.host, here.boot_id, sleeper.pid, _started(sleeper.pid), "t")
        assert not live.is_gone()
        recycled = RunOwner(here.host, here.boot_id, sleeper.pid, "1", "t")
        assert recycled.is_gone()  # its pid now belongs to a process started later
        rebooted = RunOwner(here.host, "another boot", sleeper.pid, live.started, "t")
        assert rebooted.is_gone()
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    assert live.is_gone()
    other_container = RunOwner(f"{here.host}-elsewhere", here.boot_id, live.pid, "1", "t")
    assert not other_container.is_gone()  # same kernel, other pid namespace: lease only
    assert RunOwner.parse(f"{here.host}|{here.boot_id}|{10**30}|1|t") is not None
    assert RunOwner(here.host, here.boot_id, 10**30, "1", "t").is_gone()  # no such pid


def _started(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2 :].split()[19]


def test_the_sweep_ends_only_other_desktops_runs_whose_lease_ran_out(store: Store) -> None:
    frozen = Services(store, owner=_desktop("desk-frozen"))
    _user, frozen_run, frozen_reply = _running(frozen, "the frozen desktop's words")
    alive = Services(store, owner=_desktop("desk-alive"))
    _user, alive_run, _reply = _running(alive)
    here = Services(store, owner=_desktop("desk-here"))
    _user, own_run, _reply = _running(here)
    assert here.executions.recover_expired() == 0  # every lease is fresh: nothing written
    _expire(store, frozen_run)
    _expire(store, own_run)  # this client's own run is never swept from under it
    assert here.executions.recover_expired() == 1
    assert _execution(store, frozen_run).status is ExecutionStatus.FAILED
    reply = here.messages.get(_user, frozen_reply)
    assert reply.content == "the frozen desktop's words"
    assert reply.metadata.get("interrupted") and reply.metadata["error"] == INTERRUPTED_ERROR
    assert _execution(store, alive_run).status is ExecutionStatus.RUNNING
    assert _execution(store, own_run).status is ExecutionStatus.RUNNING
    with pytest.raises(LeaseLostError):  # the frozen desktop wakes up: its writes are refused
        frozen.executions.save_text(_user, frozen_reply, "more words")
    assert here.executions.recover_expired() == 0
