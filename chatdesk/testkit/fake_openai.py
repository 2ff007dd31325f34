"""A small, real OpenAI-compatible HTTP server for tests and the benchmark (``http.server``).

Why: the engine must turn real network failures (500, 429, 401, a stalled or
dropped stream, an unreachable host) into clear errors. Mocking the openai
client would test nothing of that, so tests talk real HTTP on 127.0.0.1 to this
server, whose behaviour per request is scripted.

Each request to ``/v1/chat/completions`` takes the next :class:`Behaviour` from
the script (the last one repeats once the script is used up). Streaming replies
are Server-Sent Events over chunked transfer encoding, like the real API, so a
dropped connection is a genuinely incomplete body.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["reply", "status", "stall", "drop", "invalid_json", "endless"]


@dataclass(frozen=True)
class Behaviour:
    """What the server does with one chat-completions request.

    ``reply``: stream (or return) ``text`` in ``chunk_size`` pieces, ``delay_s`` apart.
    ``status``: answer ``status`` with an OpenAI-style error body (its ``message`` may
    quote the request: ``{key}``, ``{authorization}``, ``{request}``), or ``raw_body`` sent as
    ``content_type``, and ``headers``.
    ``stall``: send headers and the first ``stall_after_chunks`` chunks, then go quiet.
    ``drop``: send the first ``drop_after_chunks`` chunks, then close the socket.
    ``invalid_json``: answer 200 with a body that is not JSON: SSE ``data:`` lines of
    garbage when ``streamed`` (and the client asked for a stream), else a garbage
    ``application/json`` body (as a broken proxy would send, stream asked or not).
    ``endless``: stream ``text``, then :func:`endless_piece` after piece, ``delay_s``
    apart, until the client hangs up (a model that never stops talking).
    """

    mode: Mode = "reply"
    text: str = "Hello from the fake server."
    chunk_size: int = 4
    delay_s: float = 0.0
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    stall_after_chunks: int = 0
    drop_after_chunks: int = 2
    streamed: bool = True
    raw_body: str | None = None
    content_type: str = "application/json"


def reply(text: str, *, chunk_size: int = 4, delay_s: float = 0.0) -> Behaviour:
    """A normal reply, streamed when the client asks for a stream."""
    return Behaviour(mode="reply", text=text, chunk_size=chunk_size, delay_s=delay_s)


def status(
    code: int,
    message: str = "",
    headers: dict[str, str] | None = None,
    *,
    raw_body: str | None = None,
    content_type: str = "application/json",
) -> Behaviour:
    """An HTTP error answer (500, 429, 401, ...); ``raw_body`` replaces the JSON error."""
    return Behaviour(
        mode="status",
        status=code,
        message=message,
        headers=headers or {},
        raw_body=raw_body,
        content_type=content_type,
    )


def stall(text: str = "Thought: thinking hard", after_chunks: int = 1) -> Behaviour:
    """Headers and a few chunks, then silence until the client gives up."""
    return Behaviour(mode="stall", text=text, stall_after_chunks=after_chunks)


def drop(
    text: str = "Thought: I will answer\nFinal Answer: Half", after_chunks: int = 2
) -> Behaviour:
    """A few chunks, then the connection closes mid-stream."""
    return Behaviour(mode="drop", text=text, drop_after_chunks=after_chunks)


def endless(
    text: str = "Thought: I will answer.\nFinal Answer: ",
    *,
    chunk_size: int = 100,
    delay_s: float = 0.005,
) -> Behaviour:
    """``text``, then an answer that never ends, until the client hangs up."""
    return Behaviour(mode="endless", text=text, chunk_size=chunk_size, delay_s=delay_s)


def endless_piece(index: int, chunk_size: int) -> str:
    """The ``index``-th piece (from 0) an ``endless`` stream sends after its text:
    numbered words, so a test can tell exactly which part of the stream it kept."""
    words = "".join(f"{index:08d}.{n} " for n in range(max(1, chunk_size // 11)))
    return words[:chunk_size]


def invalid_json(text: str = "<html>502 Bad Gateway</html>", *, streamed: bool = True) -> Behaviour:
    """A 200 whose body is not JSON (see :class:`Behaviour`)."""
    return Behaviour(mode="invalid_json", text=text, streamed=streamed)


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    behaviour: Behaviour | None = None
    client_disconnected: bool = False
    disconnected_at: float | None = None  # time.monotonic() when the server saw it go
    chunks_sent: int = 0  # SSE events written (a drop or a client gone stops the count)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def is_title(self) -> bool:
        """Whether this is chatdesk asking for a chat's title (its system message)."""
        from chatdesk.engine.titles import INSTRUCTION

        messages = (self.body or {}).get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        return isinstance(first, dict) and first.get("content") == INSTRUCTION


class FakeOpenAIServer:
    """The server plus its script and request log; use :func:`running_server`."""

    def __init__(self, script: list[Behaviour] | None = None, models: list[str] | None = None):
        self._lock = threading.Lock()
        self._script: list[Behaviour] = list(script or [reply("Hello from the fake server.")])
        self.models = models or ["fake-model"]
        self.requests: list[RecordedRequest] = []
        self.release = threading.Event()  # set at shutdown: ends every stall
        self.hurry = threading.Event()  # set by ``hurry_up``: no more delays between chunks
        self.request_arrived = threading.Condition(self._lock)
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # -- control ---------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def hurry_up(self) -> None:
        """Send the rest of every delayed reply without its delays: a test that needed a
        reply to stream slowly for a while need not wait for all of it."""
        self.hurry.set()

    def set_script(self, script: list[Behaviour]) -> None:
        with self._lock:
            self._script = list(script)

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def run_requests(self) -> list[RecordedRequest]:
        """The chat requests of runs: without chatdesk's title calls (one after a chat's
        first reply, see ``chatdesk.engine.titles``), which a test of a run's requests
        would otherwise count whenever the title call came in time."""
        return [request for request in self.chat_requests() if not request.is_title]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` chat requests arrived (for tests)."""
        deadline = time.monotonic() + timeout
        with self.request_arrived:
            while len([r for r in self.requests if r.path.endswith("/chat/completions")]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.request_arrived.wait(remaining)
        return True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            if len(self._script) > 1:
                return self._script.pop(0)
            return self._script[0]

    def _record(self, request: RecordedRequest) -> None:
        with self.request_arrived:
            self.requests.append(request)
            self.request_arrived.notify_all()

    # -- HTTP ------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                record = RecordedRequest("GET", self.path, dict(self.headers), None)
                server._record(record)
                if self.path.rstrip("/") in ("/v1/models", "/models"):
                    data = {
                        "object": "list",
                        "data": [{"id": m, "object": "model"} for m in server.models],
                    }
                    self._send_json(200, data)
                elif self.path.rstrip("/") == "/api/tags":
                    self._send_json(200, {"models": [{"name": m} for m in server.models]})
                else:
                    self._send_json(404, {"error": {"message": "not found"}})
                record.finished.set()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = None
                record = RecordedRequest("POST", self.path, dict(self.headers), body)
                behaviour = server._next_behaviour()
                record.behaviour = behaviour
                server._record(record)
                try:
                    self._serve_chat(behaviour, body or {}, record)
                except (BrokenPipeError, ConnectionResetError):
                    record.disconnected_at = time.monotonic()
                    record.client_disconnected = True
                finally:
                    record.finished.set()

            # -- helpers --------------------------------------------------
            def _send_json(
                self, code: int, data: Any, headers: dict[str, str] | None = None
            ) -> None:
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

            def _write_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _sse(self, obj: Any) -> None:
                text = obj if isinstance(obj, str) else json.dumps(obj)
                self._write_chunk(f"data: {text}\n\n".encode())

            def _send_raw(
                self,
                text: str,
                code: int = 200,
                content_type: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                payload = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

            def _serve_chat(
                self, b: Behaviour, body: dict[str, Any], record: RecordedRequest
            ) -> None:
                model = str(body.get("model", "fake-model"))
                if b.mode == "status" and b.raw_body is not None:
                    self._send_raw(b.raw_body, b.status, b.content_type, b.headers)
                    return
                if b.mode == "status":
                    kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(
                        b.status, "server_error"
                    )
                    err = {
                        "error": {
                            "message": _echoing(b.message, self.headers, body)
                            or f"fake error {b.status}",
                            "type": kind,
                            "code": kind,
                        }
                    }
                    self._send_json(b.status, err, b.headers)
                    return
                if b.mode == "invalid_json" and not (b.streamed and body.get("stream")):
                    self._send_raw(b.text)
                    return
                pieces = [b.text[i : i + b.chunk_size] for i in range(0, len(b.text), b.chunk_size)]
                if not body.get("stream"):
                    self._send_json(200, _completion(model, b.text))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if b.mode == "invalid_json":
                    for piece in pieces:
                        self._sse(piece)  # not JSON: the client cannot parse it
                        record.chunks_sent += 1
                    self._sse("[DONE]")
                    self._write_chunk(b"")
                    return
                for index, piece in enumerate(pieces):
                    if b.mode == "stall" and index >= b.stall_after_chunks:
                        self._stall()
                        return
                    if b.mode == "drop" and index >= b.drop_after_chunks:
                        self._drop()
                        return
                    delay = b.delay_s and index and not server.hurry.is_set()
                    if delay and server.release.wait(b.delay_s):
                        return
                    self._sse(_chunk(model, piece))
                    record.chunks_sent += 1
                if b.mode == "stall":
                    self._stall()
                    return
                if b.mode == "drop":
                    self._drop()
                    return
                if b.mode == "endless":
                    self._endless(b, model, record)
                    return
                self._sse(_chunk(model, None, finish="stop"))
                self._sse(_usage_chunk(model, b.text, body))
                self._sse("[DONE]")
                self._write_chunk(b"")  # end of chunked body

            def _endless(self, b: Behaviour, model: str, record: RecordedRequest) -> None:
                # Like a real server (uvicorn's http.disconnect), notice a client that
                # hung up (its FIN) between writes, not only when a write fails.
                index = 0
                while not (b.delay_s and server.release.wait(b.delay_s)):
                    if server.release.is_set():
                        return
                    self._sse(_chunk(model, endless_piece(index, b.chunk_size)))
                    record.chunks_sent += 1
                    index += 1
                    self._raise_if_client_gone()

            def _stall(self) -> None:
                # Go quiet, but notice a client that gave up (it closes the socket).
                while not server.release.wait(0.05):
                    self.wfile.write(b"")
                    self._raise_if_client_gone()

            def _raise_if_client_gone(self) -> None:
                """ConnectionResetError once the client has closed its end (or reset it)."""
                try:
                    self.connection.settimeout(0.0)
                    try:
                        if self.connection.recv(1) == b"":
                            raise ConnectionResetError
                    except BlockingIOError:
                        pass
                    finally:
                        self.connection.settimeout(None)
                except OSError as exc:
                    raise ConnectionResetError from exc

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(2)  # socket.SHUT_RDWR

        return Handler


def _echoing(message: str, headers: Any, body: dict[str, Any]) -> str:
    """``message`` with ``{key}``, ``{authorization}`` and ``{request}`` from the request.

    Real providers do this: a 401 quoting "Incorrect API key provided: sk-...", a 500
    quoting the request it choked on. Tests use it to check no echoed key is kept.
    """
    if "{" not in message:
        return message
    authorization = headers.get("Authorization", "")
    request = " ".join(f"{name}: {value}" for name, value in headers.items())
    return (
        message.replace("{key}", authorization.removeprefix("Bearer "))
        .replace("{authorization}", authorization)
        .replace("{request}", f"{request} {json.dumps(body)}")
    )


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a cancelled run, a timeout) is normal here, not news."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _chunk(model: str, text: str | None, finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {} if text is None else {"role": "assistant", "content": text}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _usage_chunk(model: str, text: str, body: dict[str, Any]) -> dict[str, Any]:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
    completion = max(1, len(text) // 4)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


@contextmanager
def running_server(
    script: list[Behaviour] | None = None, models: list[str] | None = None
) -> Iterator[FakeOpenAIServer]:
    """Start a fake server on a free 127.0.0.1 port for the duration of a block."""
    server = FakeOpenAIServer(script, models)
    server.start()
    try:
        yield server
    finally:
        server.stop()
