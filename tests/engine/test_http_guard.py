"""The run's HTTP guard: no retry a run cannot wait for, no garbage mistaken for a reply,
no connection left open behind a cancelled run."""

from __future__ import annotations

import email.utils
import threading
import time

import httpx
import pytest

from chatdesk.engine.cancel_signal import CancelSignal
from chatdesk.engine.http_guard import (
    RunGuard,
    StreamCancelled,
    UnreadableResponse,
    retry_after_s,
)
from chatdesk.testkit.fake_openai import reply, running_server, stall

URL = "http://127.0.0.1:9/v1/chat/completions"


def exchange(
    guard: RunGuard, status: int, headers: dict[str, str], body: bytes = b""
) -> httpx.Response:
    guard.on_outbound(httpx.Request("POST", URL, json={"model": "m", "stream": True}))
    return guard.on_inbound(httpx.Response(status, headers=headers, content=body))


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_s(httpx.Headers(headers)) == seconds


def test_retry_after_as_a_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after_s(httpx.Headers({"retry-after": later}))
    assert wait is not None and 25 < wait <= 30


@pytest.mark.parametrize("status", [429, 503])
def test_a_wait_beyond_the_deadline_is_not_retried(status: int) -> None:
    guard = RunGuard(CancelSignal(), deadline=time.monotonic() + 2)
    late = exchange(guard, status, {"retry-after": "5"})
    assert late.headers["x-should-retry"] == "false"
    soon = exchange(guard, status, {"retry-after": "1"})
    assert "x-should-retry" not in soon.headers


def test_without_a_deadline_the_sdk_decides() -> None:
    response = exchange(RunGuard(CancelSignal()), 429, {"retry-after": "500"})
    assert "x-should-retry" not in response.headers


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html", b"<h1>502 Bad Gateway</h1>"), ("application/json", b"{not json"), ("", b"")],
)
def test_a_stream_answered_with_something_else_is_unreadable(
    content_type: str, body: bytes
) -> None:
    with pytest.raises(UnreadableResponse, match="answered with"):
        exchange(RunGuard(CancelSignal()), 200, {"content-type": content_type}, body)


def test_an_unlabelled_stream_still_reads() -> None:
    body = b'data: {"choices": []}\n\ndata: [DONE]\n\n'
    response = exchange(RunGuard(CancelSignal()), 200, {}, body)
    assert response.read() == body


def test_a_cancelled_run_sends_nothing_more() -> None:
    cancel = CancelSignal()
    guard = RunGuard(cancel)
    cancel.set()
    with pytest.raises(StreamCancelled):
        guard.on_outbound(httpx.Request("POST", URL, json={"stream": True}))


class GuardedTransport(httpx.HTTPTransport):
    """The guard around a real transport, as CrewAI's interceptor transport plugs it in."""

    def __init__(self, guard: RunGuard) -> None:
        super().__init__()
        self._guard = guard

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._guard.on_inbound(super().handle_request(self._guard.on_outbound(request)))


def _read_in_thread(
    guard: RunGuard, base_url: str, first_part: threading.Event
) -> tuple[threading.Thread, list[BaseException]]:
    """Stream a chat completion on another thread (as a run does) until it ends."""
    errors: list[BaseException] = []

    def read() -> None:
        client = httpx.Client(transport=GuardedTransport(guard), timeout=30.0)
        try:
            body = {"model": "m", "stream": True}
            with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
                for _part in response.iter_raw():
                    first_part.set()
        except BaseException as error:
            errors.append(error)
        finally:
            client.close()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, errors


@pytest.mark.parametrize(
    "behaviour",
    [stall("Final Answer: wait for it", after_chunks=1), reply("x" * 400, delay_s=0.2)],
    ids=["stalled", "trickling"],
)
def test_cancel_hangs_up_the_stream_being_read_at_once(behaviour: object) -> None:
    """A read blocked on a quiet socket ends when the run is cancelled, not at its
    30 s timeout: the cancelling thread shuts the connection, and the server sees it."""
    cancel = CancelSignal()
    with running_server([behaviour]) as server:  # type: ignore[list-item]
        first_part = threading.Event()
        thread, errors = _read_in_thread(RunGuard(cancel), server.base_url, first_part)
        assert first_part.wait(10), "the stream never started"
        (served,) = server.chat_requests()
        cancelled = time.monotonic()
        cancel.set()
        thread.join(5)
        assert not thread.is_alive(), "the read went on after the cancel"
        assert served.finished.wait(5) and served.client_disconnected
        hung_up_s = time.monotonic() - cancelled
    assert len(errors) == 1 and isinstance(errors[0], StreamCancelled), errors
    assert hung_up_s < 1.0, f"the server saw the connection close after {hung_up_s:.2f} s"


def test_a_cancel_before_the_headers_hangs_up_when_they_come() -> None:
    cancel = CancelSignal()
    with running_server([stall("Final Answer: late", after_chunks=0)]) as server:
        guard = RunGuard(cancel)
        request = guard.on_outbound(
            httpx.Request("POST", f"{server.base_url}/chat/completions", json={"stream": True})
        )
        with httpx.HTTPTransport() as transport:
            response = transport.handle_request(request)
            cancel.set()  # after the request went out, before its response is looked at
            guarded = guard.on_inbound(response)
            with pytest.raises(StreamCancelled):
                for _part in guarded.stream:  # type: ignore[union-attr]
                    pass
            (served,) = server.chat_requests()
            assert served.finished.wait(5) and served.client_disconnected


def test_a_cancel_signal_calls_back_once_on_the_setting_thread() -> None:
    signal = CancelSignal()
    calls: list[str] = []
    signal.on_set(lambda: calls.append(threading.current_thread().name))
    setter = threading.Thread(target=signal.set, name="canceller")
    setter.start()
    setter.join()
    signal.set()
    signal.on_set(lambda: calls.append("late"))  # already set: called at once
    assert calls == ["canceller", "late"]
    assert signal.is_set()
