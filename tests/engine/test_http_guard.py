"""The run's HTTP guard: no retry a run cannot wait for, no garbage mistaken for a reply."""

from __future__ import annotations

import email.utils
import threading
import time

import httpx
import pytest

from chatdesk.engine.http_guard import (
    RunGuard,
    StreamCancelled,
    UnreadableResponse,
    retry_after_s,
)

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
    guard = RunGuard(threading.Event(), deadline=time.monotonic() + 2)
    late = exchange(guard, status, {"retry-after": "5"})
    assert late.headers["x-should-retry"] == "false"
    soon = exchange(guard, status, {"retry-after": "1"})
    assert "x-should-retry" not in soon.headers


def test_without_a_deadline_the_sdk_decides() -> None:
    response = exchange(RunGuard(threading.Event()), 429, {"retry-after": "500"})
    assert "x-should-retry" not in response.headers


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html", b"<h1>502 Bad Gateway</h1>"), ("application/json", b"{not json"), ("", b"")],
)
def test_a_stream_answered_with_something_else_is_unreadable(
    content_type: str, body: bytes
) -> None:
    with pytest.raises(UnreadableResponse, match="answered with"):
        exchange(RunGuard(threading.Event()), 200, {"content-type": content_type}, body)


def test_an_unlabelled_stream_still_reads() -> None:
    body = b'data: {"choices": []}\n\ndata: [DONE]\n\n'
    response = exchange(RunGuard(threading.Event()), 200, {}, body)
    assert response.read() == body


def test_a_cancelled_run_sends_nothing_more() -> None:
    cancel = threading.Event()
    guard = RunGuard(cancel)
    cancel.set()
    with pytest.raises(StreamCancelled):
        guard.on_outbound(httpx.Request("POST", URL, json={"stream": True}))
