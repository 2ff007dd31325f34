"""What chatdesk enforces on every HTTP exchange with an OpenAI-compatible model server.

Why in the transport: CrewAI's interceptor hook into the provider's HTTP transport is
the one place that sees each request and response of a run, below the SDK's retry
loop (``crew_builder.RunInterceptor`` plugs :class:`RunGuard` in there). There:

- a cancelled run stops: the next request is refused, and the connection of the
  response being read is shut down by the thread that cancels, so the server sees it
  close at once and the read fails even when no chunk comes (a stalled stream); a
  stream also fails at its next chunk (CrewAI swallows exceptions raised by event
  handlers, so only the transport can stop a stream);
- a retry the server asks to wait for longer than the run has left is not waited for:
  the response is marked ``x-should-retry: false`` (which the openai SDK obeys), so the
  run fails at once with the server's own 429/503 instead of sleeping into its deadline;
- a streamed request answered with something that is not a stream (a proxy's HTML
  page, a garbage body) fails as :class:`UnreadableResponse`, not as an "empty reply".
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from email.utils import parsedate_to_datetime

import httpx

from chatdesk.engine.cancel_signal import CancelSignal
from chatdesk.engine.protocol import ErrorKind

RETRIED_STATUSES = frozenset({408, 409, 429})
"""Besides 5xx, the statuses the openai SDK retries (and may be told to wait for)."""


class StreamCancelled(Exception):
    """Raised inside a model's HTTP exchange when its run was cancelled."""


class UnreadableResponse(Exception):
    """The server answered a streamed request with a body that is not a stream of JSON.

    ``error_kind`` lets :func:`chatdesk.engine.errors.describe_failure` name it without
    importing this module.
    """

    error_kind = ErrorKind.BAD_RESPONSE.value


class _CancellableStream(httpx.SyncByteStream):
    """Passes a response body through, failing as soon as the run is cancelled."""

    def __init__(
        self,
        inner: httpx.SyncByteStream,
        cancel_event: threading.Event,
        on_close: Callable[[], None],
    ):
        self._inner = inner
        self._cancel = cancel_event
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        try:
            for part in self._inner:
                if self._cancel.is_set():
                    self.close()
                    raise StreamCancelled("The run was cancelled")
                yield part
        except httpx.TransportError as exc:  # the cancelling thread shut the socket
            if self._cancel.is_set():
                raise StreamCancelled("The run was cancelled") from exc
            raise

    def close(self) -> None:
        self._on_close()
        self._inner.close()


class _CancellableAsyncStream(httpx.AsyncByteStream):
    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        cancel_event: threading.Event,
        on_close: Callable[[], None],
    ):
        self._inner = inner
        self._cancel = cancel_event
        self._on_close = on_close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._inner:
                if self._cancel.is_set():
                    await self.aclose()
                    raise StreamCancelled("The run was cancelled")
                yield part
        except httpx.TransportError as exc:
            if self._cancel.is_set():
                raise StreamCancelled("The run was cancelled") from exc
            raise

    async def aclose(self) -> None:
        self._on_close()
        await self._inner.aclose()


class RunGuard:
    """Cancel, deadline and sanity checks for the HTTP exchanges of one run.

    Free of CrewAI, so it can be tested (and imported) without loading it.

    One instance serves one run's LLM, whose calls are sequential, so remembering
    whether the request in flight asked for a stream, and which connection its
    response is read from, is safe.
    """

    def __init__(self, cancel_event: CancelSignal, deadline: float | None = None):
        """``deadline``: when the run's budget ends, on the ``time.monotonic`` clock."""
        self._cancel = cancel_event
        self._deadline = deadline
        self._streaming = False
        self._socket_lock = threading.Lock()
        self._live_socket: socket.socket | None = None
        cancel_event.on_set(self._hang_up)

    # -- requests --------------------------------------------------------------------

    def on_outbound(self, message: httpx.Request) -> httpx.Request:
        if self._cancel.is_set():
            raise StreamCancelled("The run was cancelled")
        self._streaming = _asks_for_stream(message)
        return message

    async def aon_outbound(self, message: httpx.Request) -> httpx.Request:
        return self.on_outbound(message)

    # -- responses -------------------------------------------------------------------

    def on_inbound(self, message: httpx.Response) -> httpx.Response:
        self._refuse_late_retry(message)
        self._watch(message)
        if self._may_not_be_a_stream(message):
            try:
                message.read()
            finally:
                self._forget_socket()
            _check_events(message)
        elif isinstance(message.stream, httpx.SyncByteStream):
            message.stream = _CancellableStream(message.stream, self._cancel, self._forget_socket)
        return message

    async def aon_inbound(self, message: httpx.Response) -> httpx.Response:
        self._refuse_late_retry(message)
        self._watch(message)
        if self._may_not_be_a_stream(message):
            try:
                await message.aread()
            finally:
                self._forget_socket()
            _check_events(message)
        elif isinstance(message.stream, httpx.AsyncByteStream):
            message.stream = _CancellableAsyncStream(
                message.stream, self._cancel, self._forget_socket
            )
        return message

    # -- hanging up ------------------------------------------------------------------

    def _watch(self, response: httpx.Response) -> None:
        """Remember the socket the body will be read from, so a cancel can shut it."""
        network_stream = response.extensions.get("network_stream")
        get_extra_info = getattr(network_stream, "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        with self._socket_lock:
            self._live_socket = sock if isinstance(sock, socket.socket) else None
        if self._cancel.is_set():  # cancelled while the headers were on their way
            self._hang_up()

    def _forget_socket(self) -> None:
        with self._socket_lock:
            self._live_socket = None

    def _hang_up(self) -> None:
        """Shut the connection being read (runs on the cancelling thread).

        ``shutdown`` rather than ``close``: it wakes a read blocked on another thread
        and sends the server a FIN now; the reading thread then closes the socket.
        """
        with self._socket_lock:
            sock = self._live_socket
        if sock is None:
            return
        with contextlib.suppress(OSError):  # closed meanwhile: nothing left to hang up
            sock.shutdown(socket.SHUT_RDWR)

    def _refuse_late_retry(self, response: httpx.Response) -> None:
        """Tell the SDK not to retry when the wait asked for outlasts the run."""
        code = response.status_code
        if self._deadline is None or not (code in RETRIED_STATUSES or code >= 500):
            return
        wait = retry_after_s(response.headers)
        if wait is not None and wait > self._deadline - time.monotonic():
            response.headers["x-should-retry"] = "false"

    def _may_not_be_a_stream(self, response: httpx.Response) -> bool:
        """A streamed request's 200 that does not say it is an event stream.

        Its body is read whole and looked at: a server that streams without saying so
        still works (if no longer live), a page of HTML fails clearly.
        """
        content_type = response.headers.get("content-type", "")
        return (
            self._streaming and response.status_code == 200 and "event-stream" not in content_type
        )


def retry_after_s(headers: httpx.Headers) -> float | None:
    """The wait a response asks for (``retry-after-ms``, ``retry-after`` seconds or date)."""
    try:
        milliseconds = headers.get("retry-after-ms")
        if milliseconds is not None:
            return max(0.0, float(milliseconds) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _asks_for_stream(request: httpx.Request) -> bool:
    try:
        body = json.loads(request.content or b"null")
    except (ValueError, httpx.RequestNotRead):
        return False
    return isinstance(body, dict) and body.get("stream") is True


def _check_events(response: httpx.Response) -> None:
    """Raise :class:`UnreadableResponse` unless the (read) body holds SSE data lines."""
    if any(line.startswith(b"data:") for line in response.content.splitlines()):
        return
    content_type = response.headers.get("content-type") or "no content type"
    raise UnreadableResponse(
        f"a streamed request was answered with {content_type} ({len(response.content)} bytes)"
    )
