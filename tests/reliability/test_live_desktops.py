"""Two real app processes on one PostgreSQL database: what desktop A does shows on
desktop B's window as it happens (its chat, the question, the reply streaming at the
once-a-second save), and Stop pressed on B ends the run in A's worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatdesk.testkit.fake_openai import reply, running_server
from tests.support.harness_output import HarnessOutput
from tests.support.processes import die_with_parent

REPO = Path(__file__).resolve().parents[2]
LONG_ANSWER = "This answer streams slowly, so there is time to stop it from elsewhere. " * 8

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pg_url(postgres_server: object | None, postgres_at_head: str | None) -> Iterator[str]:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"desk_{uuid.uuid4().hex[:12]}"
    url: str = postgres_server.create_database(name, template=postgres_at_head)  # type: ignore[attr-defined]
    yield url
    postgres_server.drop_database(name)  # type: ignore[attr-defined]


def _start(module: str, data: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, str(data)],
        preexec_fn=die_with_parent(),
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _stop(child: subprocess.Popen[str]) -> None:
    if child.stdin is not None:
        child.stdin.close()
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=30)


def _tell(child: subprocess.Popen[str], line: str) -> None:
    assert child.stdin is not None
    child.stdin.write(line + "\n")
    child.stdin.flush()


def _wait_for_line(output: HarnessOutput, accept: object, timeout_s: float) -> str:
    """The first line ``accept`` takes (a callable on the line)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = output.wait_for("", deadline - time.monotonic())
        if line and accept(line):  # type: ignore[operator]
            return line
        if not line:
            break
    raise AssertionError(f"no such line; saw {output.all_lines()[-20:]}")


@pytest.mark.timeout(600)  # two real apps, one crew worker, on a busy 2-core machine
def test_a_reply_on_a_streams_on_b_and_stop_on_b_ends_it_in_as_worker(
    pg_url: str, tmp_path: Path
) -> None:
    text = f"Thought: I can answer.\nFinal Answer: {LONG_ANSWER}"
    with running_server([reply(text, chunk_size=2, delay_s=0.1)]) as server:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "CHATDESK_DATABASE_URL": pg_url,
            "CHATDESK_LLM_MODEL": "openai/fake-model",
            "CHATDESK_LLM_BASE_URL": server.base_url,
            "CHATDESK_LLM_API_KEY": "test-key",
            "HARNESS_REPLIES": "1",
        }
        b = _start("tests.support.watch_harness", tmp_path / "b", env)
        a: subprocess.Popen[str] | None = None
        try:
            seen = HarnessOutput(b)
            _wait_for_line(seen, lambda line: line == "online True", 120)
            a = _start("tests.support.app_harness", tmp_path / "a", env)
            said = HarnessOutput(a)
            assert said.wait_for("recovered", 120) == "recovered 0"
            committed = said.wait_for("committed", 120)
            question = int(committed.split()[1])
            _wait_for_line(seen, lambda line: line.startswith("thread "), 60)
            _wait_for_line(seen, lambda line: line.startswith(f"message {question} user"), 60)
            streaming = _wait_for_line(  # some of the reply, saved on A, shows on B
                seen,
                lambda line: (
                    line.split()[2:4] == ["assistant", "processing"] and int(line.split()[4]) > 0
                ),
                240,
            )
            reply_id = int(streaming.split()[1])
            _tell(b, "stop")  # B's Stop button, on A's run
            finished = said.wait_for("finished", 120)
            assert finished.endswith(" cancelled"), finished
            _wait_for_line(
                seen, lambda line: line.startswith(f"message {reply_id} assistant cancelled"), 60
            )
            a.wait(timeout=120)  # A quits after its one reply
            _tell(b, "quit")
            assert seen.wait_for("closed", 60) == "closed"
        finally:
            if a is not None:
                _stop(a)
            _stop(b)
