"""Real HTTP against a fake OpenAI-compatible server: every failure ends clearly and quickly."""

from __future__ import annotations

import socket
import time
from typing import Any

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import (
    CancelledEvent,
    ChunkEvent,
    ErrorKind,
    FailedEvent,
    ModelConfig,
    RunEvent,
)
from chatdesk.testkit.fake_openai import FakeOpenAIServer, drop, reply, stall, status
from tests.engine.conftest import Recorder, run_request


def model_for(server: FakeOpenAIServer, **overrides: Any) -> ModelConfig:
    settings: dict[str, Any] = {
        "model": "openai/fake-model",
        "base_url": server.base_url,
        "api_key": "sk-test",
        "timeout_s": 1.0,
        "max_retries": 0,
    }
    settings.update(overrides)
    return ModelConfig(**settings)


def run_to_end(
    client: WorkerClient, recorder: Recorder, qtbot: Any, model: ModelConfig, **kwargs: Any
) -> tuple[RunEvent, float, str]:
    request = run_request(model, deadline_s=kwargs.pop("deadline_s", 20.0), **kwargs)
    started = time.monotonic()
    client.submit(request)
    terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=25_000)
    return terminal, time.monotonic() - started, request.run_id


def test_streamed_reply(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    answer = "Hi from a real socket. {Braces} and ünïcode survive."
    fake_server.set_script(
        [reply(f"Thought: I now can give a great answer\nFinal Answer: {answer}", delay_s=0.005)]
    )
    terminal, _, run_id = run_to_end(
        client, recorder, qtbot, model_for(fake_server, max_tokens=64, temperature=0.3)
    )
    completed = recorder.completed(run_id)
    assert completed is terminal
    assert completed.text == answer
    assert recorder.live_text(run_id) == answer
    assert len([e for e in recorder.events[run_id] if isinstance(e, ChunkEvent)]) > 3
    assert completed.total_tokens > 0  # from the server's usage chunk
    (request,) = fake_server.chat_requests()
    assert request.body is not None
    assert request.body["stream"] is True
    assert request.body["model"] == "fake-model"
    assert request.body.get("temperature") == 0.3
    assert request.headers.get("Authorization") == "Bearer sk-test"
    assert "ünïcode" not in str(request.body["messages"])  # only the answer has it


def test_server_error_500(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.set_script([status(500, "the GPU caught fire")])
    terminal, elapsed, _ = run_to_end(
        client, recorder, qtbot, model_for(fake_server, max_retries=1)
    )
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.SERVER_ERROR.value
    assert "internal error (500): the GPU caught fire" in terminal.error
    assert len(fake_server.chat_requests()) == 2  # one try + one bounded retry, no more
    assert elapsed < 8


def test_rate_limited_429_with_retry_after(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.set_script([status(429, "slow down", {"Retry-After": "1"})])
    terminal, elapsed, _ = run_to_end(
        client, recorder, qtbot, model_for(fake_server, max_retries=1)
    )
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.RATE_LIMITED.value
    assert "rate limiting requests (429). Try again in 1 s" in terminal.error
    assert len(fake_server.chat_requests()) == 2  # not 27
    assert 0.9 < elapsed < 8  # the retry honoured Retry-After once


def test_unauthorized_401(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.set_script([status(401, "Incorrect API key provided")])
    terminal, elapsed, _ = run_to_end(
        client, recorder, qtbot, model_for(fake_server, max_retries=1)
    )
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.AUTH.value
    assert terminal.error == "The server rejected the API key (401): Incorrect API key provided."
    assert len(fake_server.chat_requests()) == 1  # never retried
    assert elapsed < 5


def test_stalled_stream_times_out(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.set_script([stall("Thought: let me think", after_chunks=2)])
    terminal, elapsed, run_id = run_to_end(client, recorder, qtbot, model_for(fake_server))
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.TIMEOUT.value
    assert "stopped responding (nothing for 1 s)" in terminal.error
    assert elapsed < 6
    assert recorder.live_text(run_id) == ""  # only the hidden "Thought:" had arrived


def test_connection_dropped_mid_stream(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.set_script([drop("Final Answer: Half of an answ", after_chunks=5)])
    terminal, elapsed, run_id = run_to_end(client, recorder, qtbot, model_for(fake_server))
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.STREAM_BROKEN.value
    assert "dropped in the middle of the reply" in terminal.error
    assert elapsed < 5
    assert recorder.live_text(run_id)  # the partial text was shown (and is kept by the GUI)


def test_unreachable_server(client: WorkerClient, recorder: Recorder, qtbot: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        model = ModelConfig(
            model="openai/fake-model",
            base_url=f"http://127.0.0.1:{port}/v1",
            timeout_s=1.0,
            max_retries=0,
        )
        terminal, elapsed, _ = run_to_end(client, recorder, qtbot, model)
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.UNREACHABLE.value
    assert terminal.error == (
        f"Could not reach the model server at http://127.0.0.1:{port}/v1. Is it running?"
    )
    assert elapsed < 5


def test_cancel_closes_the_http_stream(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.set_script([reply("Final Answer: " + "token " * 300, chunk_size=6, delay_s=0.05)])
    request = run_request(model_for(fake_server, timeout_s=5.0))
    client.submit(request)
    recorder.wait_for(qtbot, request.run_id, ChunkEvent)
    started = time.monotonic()
    client.cancel(request.run_id)
    terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=2000)
    assert isinstance(terminal, CancelledEvent)
    assert time.monotonic() - started < 2.0
    (served,) = fake_server.chat_requests()
    assert served.finished.wait(5)  # the worker stopped reading and closed the connection
    assert served.client_disconnected
    assert time.monotonic() - started < 5  # long before the ~15 s the reply would take


def test_cancel_hangs_up_a_stalled_stream_at_once(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    """No chunk comes to notice the cancel by: the cancelling thread shuts the socket,
    long before the 20 s read timeout would."""
    fake_server.set_script([stall("Final Answer: wait", after_chunks=5)])
    request = run_request(model_for(fake_server, timeout_s=20.0))
    client.submit(request)
    qtbot.waitUntil(lambda: recorder.live_text(request.run_id) == "wait", timeout=20_000)
    (served,) = fake_server.chat_requests()
    assert served.chunks_sent == 5
    qtbot.wait(300)  # the worker reads on, into the silence
    cancelled = time.monotonic()
    client.cancel(request.run_id)
    terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=2000)
    assert isinstance(terminal, CancelledEvent)
    assert served.finished.wait(5) and served.client_disconnected
    assert served.disconnected_at is not None
    hung_up_s = served.disconnected_at - cancelled
    assert hung_up_s < 1.0, f"the server saw the connection close {hung_up_s:.2f} s later"
    assert recorder.died == []  # the worker stopped the run itself: not killed
    print(f"\nstalled stream: hung up on {hung_up_s * 1000:.0f} ms after the cancel")
