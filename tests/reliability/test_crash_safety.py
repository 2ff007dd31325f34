"""chatdesk killed mid-reply loses nothing: SIGKILL the real app at random moments.

A real app process (``tests.support.app_harness``) chats with a real OpenAI-compatible
server on 127.0.0.1 through the real worker and CrewAI, and is killed with SIGKILL at
random moments, from before its worker is ready to the middle of streamed replies.
After every kill: the database passes ``PRAGMA integrity_check``, every message whose
commit was reported exists, and at the next start the interrupted reply is there with
its partial text, marked interrupted.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.services.executions import INTERRUPTED_ERROR
from chatdesk.store.migrate import open_store
from chatdesk.testkit.fake_openai import FakeOpenAIServer, reply, running_server
from chatdesk.vocabulary import MessageStatus, Role
from tests.support.harness_output import HarnessOutput
from tests.support.processes import die_with_parent

# 12 kills: 4 from start-up on, 8 while a reply streams (about 60 s on a quiet machine).
# A soak run takes more: CHATDESK_TEST_KILLS=200.
KILLS = int(os.environ.get("CHATDESK_TEST_KILLS", "12"))
ANSWER = "Every word of this answer must survive a crash. " * 6
REPO = Path(__file__).resolve().parents[2]


def _process_gone(pid: int, timeout_s: float) -> bool:
    """True once ``pid`` has exited (a zombie counts: nobody reaps orphans here)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True
        if "State:\tZ" in state:
            return True
        time.sleep(0.05)
    return False


def _wait_for_request(
    server: FakeOpenAIServer, before: int, child: subprocess.Popen[str], timeout_s: float
) -> None:
    """Until the app's worker has asked the model server (the stream is about to start)."""
    deadline = time.monotonic() + timeout_s
    while len(server.run_requests()) <= before:
        if child.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the app never asked the model server")
        time.sleep(0.02)


@pytest.mark.slow
# KILLS start-ups of the real app and its worker: ~60 s on a quiet machine, several
# minutes on a busy one; the suite-wide 120 s would measure the machine, not the app.
@pytest.mark.timeout(600)
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("CHATDESK_TEST_SEED", "20261124")))
    data = tmp_path / "data"
    database = data / "chatdesk.db"
    text = f"Thought: I can answer.\nFinal Answer: {ANSWER}"
    committed: set[int] = set()
    mid_stream_kills = 0
    # ~2 s of streaming: a kill after the first save (about 1 s in) keeps partial text.
    with running_server([reply(text, chunk_size=3, delay_s=0.02)]) as server:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "CHATDESK_LLM_MODEL": "openai/fake-model",
            "CHATDESK_LLM_BASE_URL": server.base_url,
            "CHATDESK_LLM_API_KEY": "test-key",
        }
        for kill in range(KILLS):
            requests_before = len(server.run_requests())
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.support.app_harness", str(data)],
                preexec_fn=die_with_parent(),
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            output = HarnessOutput(child)
            try:
                if kill % 3 == 0:  # anywhere from start-up on: migrations, recovery, spawning
                    time.sleep(rng.uniform(0.05, 4.0))
                else:  # while a reply streams: from its request on, however slow the machine
                    output.wait_for("worker", timeout_s=60)
                    _wait_for_request(server, requests_before, child, timeout_s=90)
                    time.sleep(rng.uniform(0.0, 2.0))
            finally:  # also when the wait fails or times out: the app dies with the test
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=30)
            worker_pid = None
            for line in output.all_lines():
                word, _, value = line.partition(" ")
                if word == "committed":
                    committed.add(int(value))
                elif word == "worker":
                    worker_pid = int(value)
            if len(server.run_requests()) > requests_before:
                mid_stream_kills += 1
            if worker_pid is not None:
                assert _process_gone(worker_pid, 10), f"kill {kill}: the worker outlived the app"

            connection = sqlite3.connect(database)
            try:
                assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                stored = {row[0] for row in connection.execute("SELECT id FROM messages")}
            finally:
                connection.close()
            missing = committed - stored
            assert not missing, f"kill {kill}: committed messages lost: {sorted(missing)}"

    # The next start recovers every interrupted run, keeping the text it had.
    store = open_store(f"sqlite:///{database}")
    services = Services(store)
    services.executions.recover_interrupted()
    user = services.users.ensure()
    replies = interrupted = with_text = 0
    for thread in services.threads.list(user):
        page = services.messages.list(user, thread.id, limit=1000)
        for message in page.messages:
            assert message.status not in (MessageStatus.PENDING, MessageStatus.PROCESSING)
            if message.role is Role.ASSISTANT:
                replies += 1
                assert ANSWER.startswith(message.content), message.content[:80]
                if message.metadata.get("interrupted"):
                    interrupted += 1
                    with_text += bool(message.content)
                    assert message.metadata["error"] == INTERRUPTED_ERROR
    store.close()
    assert mid_stream_kills >= KILLS // 3, "too few kills landed while the model streamed"
    assert interrupted >= 1 and replies >= interrupted
    assert with_text >= 1, "no interrupted reply kept any partial text"
    print(
        f"kills={KILLS} mid_stream={mid_stream_kills} replies={replies} "
        f"interrupted={interrupted} with_text={with_text} committed={len(committed)}"
    )
