"""Model lists asked of real HTTP servers on 127.0.0.1, in each provider's shape, and
every way a server can fail to give one."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chatdesk.engine.protocol import ModelConfig
from chatdesk.runs.model_catalog import ModelListError, list_models
from chatdesk.testkit.fake_openai import running_server

KEY = "sk-catalog-Secret-0042"
Answer = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up on a huge answer is what the test wants, not news."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], str]]:
    """A one-off HTTP server answering every GET with ``answer``; yields its base URL."""
    servers: list[_QuietServer] = []

    def start(answer: Answer) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                answer(self)

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def test_an_openai_compatible_server_lists_its_models_sorted() -> None:
    with running_server(models=["qwen2.5-7b", "Llama-3.2-3B", "mistral"]) as server:
        listing = list_models(ModelConfig(model="openai/x", base_url=server.base_url))
    assert listing.names == ("Llama-3.2-3B", "mistral", "qwen2.5-7b")


def test_ollama_is_asked_at_its_own_address_even_given_the_v1_one() -> None:
    with running_server(models=["llama3.2:latest", "qwen2.5:7b"]) as server:
        listing = list_models(ModelConfig(model="ollama/x", base_url=server.base_url))
        assert server.requests[-1].path == "/api/tags"
    assert listing.names == ("llama3.2:latest", "qwen2.5:7b")


def test_the_key_goes_in_each_providers_own_header(serve: Callable[[Answer], str]) -> None:
    seen: list[Any] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers)
        if handler.path.startswith("/models?pageSize"):  # Gemini's shape
            _json(
                handler,
                200,
                {
                    "models": [
                        {
                            "name": "models/gemini-2.0-flash",
                            "supportedGenerationMethods": ["generateContent"],
                        },
                        {
                            "name": "models/text-embedding-004",
                            "supportedGenerationMethods": ["embedContent"],
                        },
                    ]
                },
            )
        else:
            _json(handler, 200, {"data": [{"id": "claude-3-5-haiku-latest"}]})

    base = serve(answer)
    anthropic = list_models(ModelConfig(model="anthropic/x", base_url=base, api_key=KEY))
    gemini = list_models(ModelConfig(model="gemini/x", base_url=base, api_key=KEY))
    openai = list_models(ModelConfig(model="openai/x", base_url=base, api_key=KEY))
    assert anthropic.names == ("claude-3-5-haiku-latest",)
    assert gemini.names == ("gemini-2.0-flash",)  # the embedding model cannot chat
    assert openai.names == ("claude-3-5-haiku-latest",)
    assert seen[0].get("x-api-key") == KEY and seen[0].get("anthropic-version")
    assert seen[1].get("x-goog-api-key") == KEY
    assert seen[2].get("authorization") == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("status", "said"),
    [(401, "refused the API key (401)"), (404, "does not list its models"), (500, "answered 500")],
)
def test_an_http_error_says_what_it_means_and_never_the_key(
    serve: Callable[[Answer], str], status: int, said: str
) -> None:
    base = serve(lambda h: _json(h, status, {"error": f"Incorrect API key provided: {KEY}"}))
    with pytest.raises(ModelListError) as caught:
        list_models(ModelConfig(model="openai/x", base_url=base, api_key=KEY))
    assert said in str(caught.value)
    assert KEY not in str(caught.value)


def test_nothing_listening_says_so() -> None:
    with running_server() as server:
        base = server.base_url
    with pytest.raises(
        ModelListError, match=r"Nothing answers at 127\.0\.0\.1:.*is the server running"
    ):
        list_models(ModelConfig(model="openai/x", base_url=base))


def test_a_silent_server_times_out_in_the_given_time(serve: Callable[[Answer], str]) -> None:
    release = threading.Event()
    base = serve(lambda h: release.wait(10))
    started = time.monotonic()
    try:
        with pytest.raises(ModelListError, match=r"did not answer within 0\.5 s"):
            list_models(ModelConfig(model="openai/x", base_url=base), timeout_s=0.5)
    finally:
        release.set()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "body",
    [b"<html>502 Bad Gateway</html>", b'{"data": "nope"}', b"[1, 2]", b'{"data": [1, {"id": 5}]}'],
)
def test_a_body_that_is_not_a_model_list_is_a_clear_error_or_empty(
    serve: Callable[[Answer], str], body: bytes
) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    base = serve(answer)
    try:
        listing = list_models(ModelConfig(model="openai/x", base_url=base))
    except ModelListError as error:
        assert "did not answer with a list of models" in str(error)
    else:
        assert listing.names == ()  # a list with nothing usable in it


def test_a_huge_answer_is_refused_not_read_whole(serve: Callable[[Answer], str]) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        chunk = b" " * 1_000_000
        for _ in range(20):
            handler.wfile.write(chunk)

    base = serve(answer)
    with pytest.raises(ModelListError, match="more than a model list could be"):
        list_models(ModelConfig(model="openai/x", base_url=base))


def test_the_scripted_model_has_no_list() -> None:
    with pytest.raises(ModelListError):
        list_models(ModelConfig(model="scripted"))


def test_a_redirect_is_not_followed_and_the_key_goes_nowhere_else(
    serve: Callable[[Answer], str],
) -> None:
    seen_elsewhere: list[Any] = []
    elsewhere = serve(lambda h: (seen_elsewhere.append(h.headers), _json(h, 200, {"data": []})))

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", f"{elsewhere}/models")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    base = serve(redirect)
    with pytest.raises(ModelListError, match=r"sent the list elsewhere \(302\)"):
        list_models(ModelConfig(model="openai/x", base_url=base, api_key=KEY))
    assert seen_elsewhere == []  # the key never reached the other server
