"""One writer per database: readers in other processes never make a write fail; a
second launch on one data directory hands over to the running app; and clients with
different data directories sharing one database never take each other's runs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from chatdesk.testkit.fake_openai import reply, running_server
from tests.support.harness_output import HarnessOutput
from tests.support.processes import die_with_parent

REPO = Path(__file__).resolve().parents[2]
SLOW_ANSWER = "This answer streams slowly and must be saved whole, word for word. " * 4

READER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN")
print(connection.execute("SELECT count(*) FROM messages").fetchone()[0], flush=True)
time.sleep(float(sys.argv[2]))  # hold the read transaction open
print(connection.execute("SELECT count(*) FROM messages").fetchone()[0], flush=True)
connection.execute("COMMIT")
"""


def test_a_reading_process_never_makes_a_write_fail(tmp_path: Path) -> None:
    db = tmp_path / "chatdesk.db"
    services = Services(open_store(f"sqlite:///{db}"))
    user = services.users.ensure()
    thread = services.threads.create(user)
    services.messages.send(user, thread.id, "before", triggers_execution=False)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(db), "2"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(),
    )
    assert reader.stdout is not None
    assert reader.stdout.readline().strip() == "1"
    started = time.monotonic()
    for index in range(50):
        services.messages.send(user, thread.id, f"while reading {index}", triggers_execution=False)
    writing_took = time.monotonic() - started
    out, _ = reader.communicate(timeout=30)
    assert out.strip() == "1"  # the reader kept its snapshot
    assert reader.returncode == 0
    assert writing_took < 1.5  # writes did not wait for the reader
    assert len(services.messages.list(user, thread.id, limit=100).messages) == 51
    services.store.close()


@pytest.mark.slow
def test_a_second_launch_hands_over_to_the_running_app(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CHATDESK_DATA_DIR": str(tmp_path)}
    first = subprocess.Popen(
        [sys.executable, "-m", "chatdesk"],
        preexec_fn=die_with_parent(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = tmp_path / "chatdesk.lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and (tmp_path / "chatdesk.db").exists()):
            assert time.monotonic() < deadline, "the first app never started"
            time.sleep(0.1)
        time.sleep(0.5)
        second = subprocess.run(
            [sys.executable, "-m", "chatdesk"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 0, second.stderr[-2000:]
        assert "already running" in second.stdout
        assert first.poll() is None  # the first one is still there
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=10)


def _harness(data: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.app_harness", str(data)],
        preexec_fn=die_with_parent(),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _stop(child: subprocess.Popen[str]) -> None:
    """SIGTERM (a graceful quit), SIGKILL if that is not enough: it dies with the test."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=30)


def _first_reply(database: Path, message_id: int) -> tuple[str, str, str, str]:
    """(execution status, reply status, reply text, reply metadata) of a sent message."""
    connection = sqlite3.connect(database)
    try:
        row = connection.execute(
            "SELECT e.status, r.status, r.content, r.metadata FROM messages AS m "
            "JOIN executions AS e ON e.id = m.execution_id "
            "LEFT JOIN messages AS r ON r.execution_id = e.id AND r.role = 'assistant' "
            "WHERE m.id = ?",
            (message_id,),
        ).fetchone()
    finally:
        connection.close()
    assert row is not None
    return row[0], row[1] or "", row[2] or "", row[3] or ""


@pytest.mark.slow
@pytest.mark.timeout(600)  # two real apps and their crew workers on a busy 2-core machine
def test_a_second_client_on_the_same_database_leaves_a_live_reply_alone(
    tmp_path: Path,
) -> None:
    database = tmp_path / "shared.db"
    text = f"Thought: I can answer.\nFinal Answer: {SLOW_ANSWER}"
    # ~150 chunks 0.15 s apart: the first reply streams for 20+ s, far longer than
    # the second app takes to start and recover; then the server hurries the rest.
    with running_server([reply(text, chunk_size=2, delay_s=0.15)]) as server:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "CHATDESK_DATABASE_URL": f"sqlite:///{database}",
            "CHATDESK_LLM_MODEL": "openai/fake-model",
            "CHATDESK_LLM_BASE_URL": server.base_url,
            "CHATDESK_LLM_API_KEY": "test-key",
            "HARNESS_REPLIES": "1",
        }
        first = _harness(tmp_path / "first", env)
        second: subprocess.Popen[str] | None = None
        try:
            first_output = HarnessOutput(first)
            assert first_output.wait_for("recovered", 120) == "recovered 0"
            committed = first_output.wait_for("committed", 120)
            assert committed.startswith("committed "), committed
            message_id = int(committed.split()[1])
            assert server.wait_for_requests(1, timeout=180), "the first reply never started"
            # Some of the answer streamed and was saved (about once a second) before the
            # second client starts.
            deadline = time.monotonic() + 60
            while not _first_reply(database, message_id)[2] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _first_reply(database, message_id)[:2] == ("running", "processing")
            assert _first_reply(database, message_id)[2], "no text of the first reply saved"

            second = _harness(tmp_path / "second", env)
            second_output = HarnessOutput(second)
            recovered = second_output.wait_for("recovered", 120)
            status, reply_status, partial, _meta = _first_reply(database, message_id)
            assert (status, reply_status) == ("running", "processing"), (recovered, partial)
            assert recovered == "recovered 0"
            assert partial and SLOW_ANSWER.startswith(partial)  # still mid-reply
            _stop(second)
            server.hurry_up()  # the rest of the answer need not take 20 s

            finished = first_output.wait_for("finished", 240)
            assert finished.endswith(" completed"), finished
            first.wait(timeout=120)
        finally:
            _stop(first)
            if second is not None:
                _stop(second)
    status, reply_status, answer, meta = _first_reply(database, message_id)
    assert (status, reply_status) == ("completed", "completed")
    assert answer == SLOW_ANSWER.strip()
    assert "interrupted" not in meta


def _freeze_between_writes(child: subprocess.Popen[str], database: Path) -> None:
    """SIGSTOP the app while it holds no SQLite write lock (a frozen GUI thread mid-save
    would block every client on SQLite: that is SQLite's one writer, not a lease)."""
    for _attempt in range(10):
        child.send_signal(signal.SIGSTOP)
        connection = sqlite3.connect(database, timeout=1, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            child.send_signal(signal.SIGCONT)
            time.sleep(0.2)
        finally:
            connection.close()
    raise AssertionError("the app never let go of the write lock")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_frozen_clients_run_is_taken_over_and_its_late_writes_refused(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    text = f"Thought: I can answer.\\nFinal Answer: {SLOW_ANSWER}"
    with running_server([reply(text, chunk_size=2, delay_s=0.15)]) as server:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "CHATDESK_DATABASE_URL": f"sqlite:///{database}",
            "CHATDESK_LLM_MODEL": "openai/fake-model",
            "CHATDESK_LLM_BASE_URL": server.base_url,
            "CHATDESK_LLM_API_KEY": "test-key",
            "HARNESS_REPLIES": "1",
        }
        first = _harness(tmp_path / "first", env)
        second: subprocess.Popen[str] | None = None
        try:
            first_output = HarnessOutput(first)
            committed = first_output.wait_for("committed", 120)
            assert committed.startswith("committed "), committed
            message_id = int(committed.split()[1])
            assert server.wait_for_requests(1, timeout=180), "the first reply never started"
            deadline = time.monotonic() + 60
            while not _first_reply(database, message_id)[2]:  # some of the answer is saved
                assert time.monotonic() < deadline, "nothing of the answer was saved"
                time.sleep(0.2)
            _freeze_between_writes(first, database)
            _status, _reply, saved, _meta = _first_reply(database, message_id)
            assert saved and SLOW_ANSWER.startswith(saved)
            # It stays frozen past its lease (the clock is moved rather than waited on).
            connection = sqlite3.connect(database)
            with connection:
                connection.execute(
                    "UPDATE executions SET lease_expires_at = '2000-01-01 00:00:00.000000' "
                    "WHERE id = (SELECT execution_id FROM messages WHERE id = ?)",
                    (message_id,),
                )
            connection.close()

            second = _harness(tmp_path / "second", env)
            assert HarnessOutput(second).wait_for("recovered", 120) == "recovered 1"
            _stop(second)

            server.hurry_up()
            first.send_signal(signal.SIGCONT)  # it wakes up and streams on
            finished = first_output.wait_for("finished", 120)
            assert finished.endswith(" failed"), finished  # it stopped, told of the take-over
            first.wait(timeout=120)
        finally:
            if first.poll() is None:
                first.send_signal(signal.SIGCONT)
            _stop(first)
            if second is not None:
                _stop(second)
    status, reply_status, kept, meta = _first_reply(database, message_id)
    assert (status, reply_status) == ("failed", "failed")
    assert kept == saved  # the late saves and the completed answer were refused
    assert '"interrupted": true' in meta
