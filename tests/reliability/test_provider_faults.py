"""A misbehaving model server never hangs chatdesk, never spins on retries, never shows junk.

The real app (``ChatdeskApp``: window, coordinator, store, the crew worker process
running CrewAI, the model chosen from ``CHATDESK_LLM_*`` and ``ui.ini`` like a person's
install) talks real HTTP to a fake OpenAI-compatible server on 127.0.0.1 that answers
429 with Retry-After, 500, 503, 401, stalls, drops the connection, or sends a body that
is not JSON. For each fault: the run ends (completed when a retry succeeds, else failed)
within its deadline, the number of requests the server saw is bounded, the reply bubble
says what happened in one plain sentence, and the window never stops answering (a 10 ms
timer keeps ticking throughout). Stop during a slow stream silences the run at once.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QListView, QPlainTextEdit, QPushButton
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir, database_url
from chatdesk.engine.client import WorkerClient
from chatdesk.store.migrate import open_store
from chatdesk.testing import OFFSCREEN_NOISE
from chatdesk.testkit.fake_openai import (
    Behaviour,
    FakeOpenAIServer,
    drop,
    invalid_json,
    reply,
    running_server,
    stall,
    status,
)
from chatdesk.vocabulary import MessageStatus
from tests.support.gui_lag import GuiLagMonitor

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)

TIMEOUT_S = 1.0
"""The model's read timeout (``model/timeoutS`` in ui.ini): a stall costs this per try."""
DEADLINE_S = 8.0
"""Every run's total budget here (the app's default is five minutes)."""
MAX_UI_GAP_MS = 100
"""A 10 ms timer may be late by at most this much while a run fails or streams, beyond
what the machine itself imposed on every process (``tests.support.gui_lag``)."""
WORKER_READY_MS = 60_000
ANSWER = "Recovered after the retry, every word intact."


@dataclass
class Outcome:
    """How one run ended, as a person and the server saw it."""

    status: str
    content: str
    error: str | None
    elapsed_s: float
    requests: int
    app_lag_ms: int
    lag: str


class FaultyProvider:
    """The app wired to the fake server, and a way to send a message and watch it end."""

    def __init__(self, app: ChatdeskApp, server: FakeOpenAIServer, qtbot: QtBot) -> None:
        self.app = app
        self.server = server
        self.qtbot = qtbot

    def rows(self) -> list[dict[str, Any]]:
        model = self.app.window.findChild(QListView, "messageList").model()
        names = {bytes(n.data()).decode(): role for role, n in model.roleNames().items()}
        fields = ("messageId", "role", "content", "status", "error")
        return [
            {name: model.data(model.index(row, 0), names[name]) for name in fields}
            for row in range(model.rowCount())
        ]

    def last_reply(self) -> dict[str, Any]:
        replies = [row for row in self.rows() if row["role"] == "assistant"]
        return replies[-1] if replies else {}

    def send(self, text: str) -> None:
        """Type a message and press Enter, as a person does."""
        composer = self.app.window.findChild(QPlainTextEdit, "composer")
        composer.setFocus()
        self.qtbot.keyClicks(composer, text)
        self.qtbot.keyClick(composer, Qt.Key.Key_Return)

    def run(self, script: list[Behaviour], message: str = "Hello?") -> Outcome:
        """Send ``message`` with the server following ``script``; wait for the end."""
        self.server.set_script(script)
        before = len(self.server.run_requests())
        started = time.monotonic()
        self.send(message)
        ticks = GuiLagMonitor()  # from the moment the message is sent to the run's end
        ticks.start()
        self.qtbot.waitUntil(
            lambda: self.last_reply().get("status") in ("completed", "failed", "cancelled"),
            timeout=int((DEADLINE_S + 10) * 1000),
        )
        elapsed = time.monotonic() - started
        ticks.stop()
        reply_row = self.last_reply()
        outcome = Outcome(
            status=reply_row["status"],
            content=reply_row["content"],
            error=reply_row["error"],
            elapsed_s=elapsed,
            requests=len(self.server.run_requests()) - before,
            app_lag_ms=ticks.app_lag_ms,
            lag=ticks.describe(),
        )
        print(
            f"\n{script[0].mode} {script[0].status}: {outcome.status} in "
            f"{elapsed:.2f} s after {outcome.requests} request(s), {outcome.lag}; "
            f"error: {outcome.error!r}"
        )
        return outcome

    def no_more_requests(self, expected: int, settle_ms: int = 300) -> None:
        """Nothing retries behind the finished run's back."""
        self.qtbot.wait(settle_ms)
        assert len(self.server.chat_requests()) == expected


def assert_clear(error: str | None) -> None:
    """One plain sentence: no traceback, no exception class names, no JSON."""
    assert error, "a failed reply must say why"
    assert "\n" not in error and len(error) <= 200, error
    assert not re.search(r"Traceback|File \"|[{}\[\]]|\b\w+(Error|Exception)\b", error), error
    assert error[0].isupper() and error.rstrip()[-1] in ".?!", error


@pytest.fixture
def provider(
    request: pytest.FixtureRequest,
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chatdesk_loop: Any,
    chatdesk_worker: WorkerClient,
) -> Iterator[FaultyProvider]:
    """The real app, its model the fake server's, as configured by a person.

    Its deadline is :data:`DEADLINE_S`, or the number a test passes indirectly.
    """
    with running_server() as server:
        monkeypatch.setenv("CHATDESK_DATA_DIR", str(tmp_path / "faults-data"))
        monkeypatch.setenv("CHATDESK_LLM_MODEL", "openai/fake-model")
        monkeypatch.setenv("CHATDESK_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("CHATDESK_LLM_API_KEY", "sk-fault-test")
        directory = data_dir()
        ini = QSettings(str(directory / "ui.ini"), QSettings.Format.IniFormat)
        ini.setValue("model/timeoutS", TIMEOUT_S)
        ini.sync()
        app = ChatdeskApp(
            open_store(database_url(directory)),
            directory,
            worker=chatdesk_worker,
            deadline_s=getattr(request, "param", DEADLINE_S),
        )
        qtbot.addWidget(app.window)
        with qtbot.waitExposed(app.window):
            app.show()
        if not chatdesk_worker.is_ready:  # its start-up (importing CrewAI) is not a run's
            with qtbot.waitSignal(chatdesk_worker.worker_ready, timeout=WORKER_READY_MS):
                pass
        try:
            yield FaultyProvider(app, server, qtbot)
        finally:
            app.close()


def test_rate_limited_once_then_answers(provider: FaultyProvider) -> None:
    text = f"Thought: I can answer.\nFinal Answer: {ANSWER}"
    outcome = provider.run([status(429, "slow down", {"Retry-After": "1"}), reply(text)])
    assert (outcome.status, outcome.content, outcome.error) == ("completed", ANSWER, None)
    assert outcome.requests == 2
    assert 1.0 <= outcome.elapsed_s < DEADLINE_S  # Retry-After was honoured, once
    assert outcome.app_lag_ms < MAX_UI_GAP_MS, outcome.lag


@pytest.mark.parametrize(
    ("script", "requests", "words"),
    [
        pytest.param(
            [status(429, "slow down", {"Retry-After": "1"})],
            2,
            "The model server is rate limiting requests (429). Try again in 1 s.",
            id="429-forever",
        ),
        pytest.param(
            [status(500, "the GPU caught fire")],
            2,
            "The model server had an internal error (500): the GPU caught fire.",
            id="500",
        ),
        pytest.param(
            [status(503, "overloaded, come back later")],
            2,
            "The model server had an internal error (503): overloaded, come back later.",
            id="503",
        ),
        pytest.param(
            [status(502, raw_body="<h1>502 Bad Gateway</h1>", content_type="text/html")],
            2,
            "The model server had an internal error (502).",
            id="502-html-page",
        ),
        pytest.param(
            [status(500, raw_body='{"detail": {"trace": "x.py:12"}}')],
            2,
            "The model server had an internal error (500).",
            id="500-json-without-message",
        ),
        pytest.param(
            [status(401, "Incorrect API key provided")],
            1,
            "The server rejected the API key (401): Incorrect API key provided.",
            id="401",
        ),
        pytest.param(
            [stall("Thought: let me think", after_chunks=1)],
            1,  # the stream had begun: the SDK does not retry
            f"The model server stopped responding (nothing for {TIMEOUT_S:g} s).",
            id="stalled-stream",
        ),
        pytest.param(
            [drop("Final Answer: Half of an answ", after_chunks=5)],
            1,
            "The connection to the model server dropped in the middle of the reply.",
            id="dropped-stream",
        ),
        pytest.param(
            [invalid_json("this is { not json", streamed=True)],
            1,
            "The model server sent a reply chatdesk cannot read (not valid JSON).",
            id="invalid-json-stream",
        ),
        pytest.param(
            [invalid_json("<html>502 Bad Gateway</html>", streamed=False)],
            2,  # no stream at all: like a failed connection, retried once
            "The model server sent a reply chatdesk cannot read (not valid JSON).",
            id="invalid-json-body",
        ),
    ],
)
def test_a_fault_ends_the_run_clearly_and_quickly(
    provider: FaultyProvider, script: list[Behaviour], requests: int, words: str
) -> None:
    outcome = provider.run(script)
    assert outcome.status == "failed"
    assert outcome.error == words
    assert_clear(outcome.error)
    assert outcome.requests == requests
    assert outcome.elapsed_s < DEADLINE_S
    assert outcome.app_lag_ms < MAX_UI_GAP_MS, outcome.lag
    provider.no_more_requests(len(provider.server.chat_requests()))
    user_message = provider.rows()[-2]
    assert (user_message["role"], user_message["status"]) == ("user", "failed")


def test_dropped_stream_keeps_the_partial_text(provider: FaultyProvider) -> None:
    outcome = provider.run([drop("Final Answer: Half of an answer", after_chunks=6)])
    assert outcome.status == "failed"
    assert outcome.content and "Half of an answer".startswith(outcome.content)


@pytest.mark.parametrize("provider", [2.0], indirect=True)
def test_a_retry_after_beyond_the_deadline_is_not_waited_for(provider: FaultyProvider) -> None:
    outcome = provider.run([status(429, "slow down", {"Retry-After": "3"})])
    assert outcome.status == "failed"
    assert outcome.error == "The model server is rate limiting requests (429). Try again in 3 s."
    assert (outcome.requests, outcome.elapsed_s < 1.5) == (1, True)
    provider.qtbot.wait(int((3.3 - outcome.elapsed_s) * 1000))
    assert len(provider.server.chat_requests()) == 1  # nothing retried behind its back
    assert outcome.app_lag_ms < MAX_UI_GAP_MS, outcome.lag


@pytest.mark.parametrize("provider", [2.0], indirect=True)
def test_a_trickling_stream_ends_at_the_deadline(provider: FaultyProvider) -> None:
    """Each chunk comes within the read timeout, but the whole would take 20 s."""
    answer = "Final Answer: " + "slow " * 40
    outcome = provider.run([reply(answer, chunk_size=5, delay_s=0.5)])
    assert outcome.status == "failed"
    assert outcome.error == "The reply took longer than its 2 s limit and was stopped."
    assert outcome.requests == 1
    assert 2.0 <= outcome.elapsed_s < 3.5
    assert outcome.content and answer.removeprefix("Final Answer: ").startswith(outcome.content)
    assert outcome.app_lag_ms < MAX_UI_GAP_MS, outcome.lag


def test_stop_silences_a_slow_stream_within_two_seconds(provider: FaultyProvider) -> None:
    answer = "Slowly, word by word, the answer keeps coming. " * 20
    provider.server.set_script(
        [reply(f"Thought: I can answer.\nFinal Answer: {answer}", chunk_size=4, delay_s=0.05)]
    )
    provider.send("Tell me slowly")
    ticks = GuiLagMonitor()
    ticks.start()
    qtbot = provider.qtbot
    qtbot.waitUntil(lambda: len(provider.last_reply().get("content") or "") > 20, timeout=20_000)
    stop = provider.app.window.findChild(QPushButton, "stopButton")
    assert stop.isVisible() and stop.isEnabled()
    clicked = time.monotonic()
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: provider.last_reply()["status"] == "cancelled", timeout=2000)
    stopped_in = time.monotonic() - clicked
    partial = provider.last_reply()["content"]
    assert partial and answer.startswith(partial) and len(partial) < len(answer)
    (served,) = provider.server.chat_requests()
    sent_at_stop = served.chunks_sent
    writes: list[str] = []
    provider.app.coordinator.reply_text_changed.connect(lambda _id, text: writes.append(text))
    qtbot.wait(1000)  # the server would have streamed ~20 more chunks by now
    ticks.stop()
    assert writes == []
    reply_row = provider.last_reply()
    assert (reply_row["status"], reply_row["content"]) == ("cancelled", partial)
    stored = provider.app.services.messages.get(provider.app.user_id, reply_row["messageId"])
    assert (stored.status, stored.content) == (MessageStatus.CANCELLED, partial)
    assert served.finished.wait(2), "the worker kept reading the stream"
    assert served.client_disconnected
    assert served.chunks_sent <= sent_at_stop + 5  # what was already on its way
    assert ticks.app_lag_ms < MAX_UI_GAP_MS, ticks.describe()
    print(
        f"\nstop: cancelled {stopped_in * 1000:.0f} ms after the click, partial "
        f"{len(partial)} chars, server sent {served.chunks_sent} chunks "
        f"({served.chunks_sent - sent_at_stop} after Stop), {ticks.describe()}"
    )


def test_full_collections_skip_what_start_up_built(provider: FaultyProvider) -> None:
    """The app freezes its start-up heap, so a full collection cannot pause a run long."""
    provider.qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=2000)
    assert len(gc.get_objects()) < gc.get_freeze_count() / 5
    provider.app.close()
    assert gc.get_freeze_count() == 0
