"""A run chatdesk ends itself stops in the worker at once, keeps its text, and costs nothing after.

The real app (window, coordinator, store, the crew worker process running CrewAI) talks
real HTTP to a fake OpenAI-compatible server on 127.0.0.1 whose model never stops
talking. The GUI ends the run itself, for a reply past the length limit or for a save
the database refuses; either way the reply keeps its text and says why, the server
sees its connection closed within moments (not at the run's deadline), the worker goes
quiet, and the next message gets a normal reply from the same worker.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from chatdesk.app import ChatdeskApp
from chatdesk.services.messages import MAX_CONTENT_CHARS
from chatdesk.testing import OFFSCREEN_NOISE
from chatdesk.testkit.fake_openai import Behaviour, endless, endless_piece, reply
from tests.reliability.test_provider_faults import FaultyProvider, provider

__all__ = ["provider"]  # a fixture used below
pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)

DEADLINE_S = 60.0
"""The runs' budget: far beyond any ending tested here, so only chatdesk's own ends them."""
LIMIT = 20_000
"""The reply length limit for most tests here (the product's is 4,000,000)."""
CHUNK = 100
ENDED = ("completed", "failed", "cancelled")
HANG_UP_WITHIN_S = 3.0
"""From the GUI's ending (its cancel to the worker) to the server seeing its connection
closed (measured: tens of milliseconds)."""
IDLE_CPU_SHARE = 0.25
"""The worker's CPU use once its run ended (it was ~55 % while it read on for nobody)."""
SAVE_REFUSED = "simulated: the disk is full"


def endless_answer(length: int, chunk: int = CHUNK) -> str:
    """The first ``length`` characters of the answer an ``endless`` stream sends."""
    pieces = (endless_piece(index, chunk) for index in range(length // (chunk - 1) + 2))
    return "".join(pieces)[:length]


def _answer(
    provider: FaultyProvider, script: list[Behaviour], message: str, timeout_s: float = 30
) -> tuple[dict[str, Any], float]:
    """Send ``message`` with the server following ``script``; the new reply once it
    ended, and how long after sending that was."""
    replies_before = sum(row["role"] == "assistant" for row in provider.rows())
    provider.server.set_script(script)
    sent = time.monotonic()
    provider.send(message)
    provider.qtbot.waitUntil(
        lambda: (
            sum(row["role"] == "assistant" for row in provider.rows()) > replies_before
            and provider.last_reply()["status"] in ENDED
        ),
        timeout=int(timeout_s * 1000),
    )
    return provider.last_reply(), time.monotonic() - sent


class EndingClock:
    """When the GUI ended a run: the moment the coordinator told the worker to cancel
    it (``time.monotonic``), before it writes the ending and signals ``run_finished``."""

    def __init__(self, app: ChatdeskApp, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ended_at: list[float] = []
        cancel = app.worker.cancel

        def timed_cancel(run_id: str) -> None:
            self.ended_at.append(time.monotonic())
            cancel(run_id)

        monkeypatch.setattr(app.worker, "cancel", timed_cancel)


def _cpu_s(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hung_up_after_s(provider: FaultyProvider, ended_at: list[float]) -> float:
    """How long after the GUI's ending the server saw the client go.

    The GUI's event loop keeps running meanwhile, as it does for a person: a blocking
    wait would leave the worker's events unread and its pipe full.
    """
    (served,) = provider.server.run_requests()
    provider.qtbot.waitUntil(served.finished.is_set, timeout=10_000)
    assert ended_at, "the GUI never told the worker to stop"
    assert served.client_disconnected and served.disconnected_at is not None
    return served.disconnected_at - ended_at[0]


def _worker_goes_quiet(provider: FaultyProvider) -> float:
    """The worker's CPU share over a second after the run ended."""
    pid = provider.app.worker.pid
    assert pid is not None
    before, started = _cpu_s(pid), time.monotonic()
    provider.qtbot.wait(1000)
    return (_cpu_s(pid) - before) / (time.monotonic() - started)


def _next_message_is_answered_normally(provider: FaultyProvider, worker_pid: int | None) -> None:
    died: list[str] = []
    provider.app.worker.worker_died.connect(died.append)
    answer, _ = _answer(provider, [reply("Final Answer: Back to normal, every word.")], "Again?")
    assert (answer["status"], answer["content"], answer["error"]) == (
        "completed",
        "Back to normal, every word.",
        None,
    )
    assert provider.app.worker.pid == worker_pid and died == []  # the same worker, alive


@pytest.mark.parametrize("provider", [DEADLINE_S], indirect=True)
@pytest.mark.parametrize(
    ("limit", "chunk", "delay_s"),
    [
        pytest.param(LIMIT, CHUNK, 0.005, id="20k"),
        # The product's limit, as fast as the pipeline goes: ~25 s here, 4 MB kept.
        pytest.param(MAX_CONTENT_CHARS, 4000, 0.0, id="4M", marks=pytest.mark.slow),
    ],
)
def test_a_reply_past_the_limit_keeps_its_text_and_the_provider_is_hung_up_on(
    provider: FaultyProvider,
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
    chunk: int,
    delay_s: float,
) -> None:
    app = provider.app
    app.coordinator.max_reply_chars = limit
    clock = EndingClock(app, monkeypatch)
    worker_pid = app.worker.pid
    script = [endless(chunk_size=chunk, delay_s=delay_s)]
    answer, elapsed_s = _answer(provider, script, "Talk forever", timeout_s=DEADLINE_S)
    assert answer["status"] == "failed"
    assert answer["error"] == (
        f"The reply passed the limit of {limit:,} characters and was stopped; "
        f"its first {limit:,} characters are kept."
    )
    assert answer["content"] == endless_answer(limit, chunk)
    stored = app.services.messages.get(app.user_id, answer["messageId"])
    assert stored.content == answer["content"]  # in the database, not only on screen
    hung_up_s = _hung_up_after_s(provider, clock.ended_at)
    assert hung_up_s < HANG_UP_WITHIN_S, f"the server saw the end {hung_up_s:.2f} s later"
    cpu_share = _worker_goes_quiet(provider)
    assert cpu_share < IDLE_CPU_SHARE, f"the worker still uses {cpu_share:.0%} of a core"
    print(
        f"\nlimit {limit:,}: failed {elapsed_s:.2f} s after sending, server hung up on "
        f"{hung_up_s * 1000:.0f} ms after the GUI's ending, worker CPU after: {cpu_share:.0%}"
    )
    _next_message_is_answered_normally(provider, worker_pid)


@pytest.mark.parametrize("provider", [DEADLINE_S], indirect=True)
def test_a_save_the_database_refuses_ends_the_run_and_hangs_up(
    provider: FaultyProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = provider.app
    database = app.store.engine.url.database
    assert database
    # The database itself refuses the reply's periodic saves (as a full disk would);
    # the final write, which also ends the run, still goes through.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute(
            "CREATE TRIGGER refuse_saves BEFORE UPDATE OF content ON messages "
            "WHEN NEW.role = 'assistant' AND NEW.status = 'processing' "
            f"BEGIN SELECT RAISE(ABORT, '{SAVE_REFUSED}'); END"
        )
        connection.commit()
    clock = EndingClock(app, monkeypatch)
    worker_pid = app.worker.pid
    answer, elapsed_s = _answer(provider, [endless(chunk_size=CHUNK, delay_s=0.02)], "Talk on")
    assert answer["status"] == "failed"
    assert answer["error"] == f"chatdesk could not save this reply: {SAVE_REFUSED}"
    kept = answer["content"]
    assert kept and endless_answer(len(kept)) == kept
    hung_up_s = _hung_up_after_s(provider, clock.ended_at)
    assert hung_up_s < HANG_UP_WITHIN_S, f"the server saw the end {hung_up_s:.2f} s later"
    cpu_share = _worker_goes_quiet(provider)
    assert cpu_share < IDLE_CPU_SHARE, f"the worker still uses {cpu_share:.0%} of a core"
    print(
        f"\nsave refused: failed {elapsed_s:.2f} s after sending, kept "
        f"{len(kept)} chars, server hung up on {hung_up_s * 1000:.0f} ms after "
        f"the GUI's ending, worker CPU after: {cpu_share:.0%}"
    )
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("DROP TRIGGER refuse_saves")
        connection.commit()
    _next_message_is_answered_normally(provider, worker_pid)
