"""One writer: readers in other processes never make a write fail; a second launch
hands over to the running app instead of opening the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.store.migrate import open_store

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
        [sys.executable, "-c", READER, str(db), "2"], stdout=subprocess.PIPE, text=True
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
