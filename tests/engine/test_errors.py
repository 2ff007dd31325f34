"""Exceptions of every shape CrewAI lets through become one clear sentence and a code."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from chatdesk.engine.errors import deadline_failure, describe_failure
from chatdesk.engine.protocol import ErrorKind, ModelConfig
from chatdesk.engine.scripting import scripted_error

MODEL = ModelConfig(model="openai/m", base_url="http://127.0.0.1:9999/v1", timeout_s=7)
REQUEST = httpx.Request("POST", "http://127.0.0.1:9999/v1/chat/completions")


def status_error(cls: type[openai.APIStatusError], code: int, **headers: str) -> Exception:
    response = httpx.Response(code, request=REQUEST, headers=headers)
    body = {"error": {"message": f"server says {code}"}}
    return cls(f"Error code: {code}", response=response, body=body)


def wrapped(inner: BaseException) -> Exception:
    """How CrewAI sometimes re-raises: a new exception with the original as cause."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("crew failed") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (
            status_error(openai.AuthenticationError, 401),
            ErrorKind.AUTH,
            "rejected the API key (401)",
        ),
        (status_error(openai.PermissionDeniedError, 403), ErrorKind.AUTH, "(403)"),
        (
            status_error(openai.RateLimitError, 429, **{"retry-after": "3"}),
            ErrorKind.RATE_LIMITED,
            "rate limiting requests (429). Try again in 3 s",
        ),
        (
            status_error(openai.InternalServerError, 503),
            ErrorKind.SERVER_ERROR,
            "internal error (503): server says 503",
        ),
        (status_error(openai.NotFoundError, 404), ErrorKind.BAD_REQUEST, "does not know the model"),
        (
            status_error(openai.BadRequestError, 400),
            ErrorKind.BAD_REQUEST,
            "rejected the request (400)",
        ),
        (
            openai.APIConnectionError(request=REQUEST),
            ErrorKind.UNREACHABLE,
            "Could not reach the model server at http://127.0.0.1:9999/v1",
        ),
        (
            ConnectionError("Failed to connect to OpenAI API"),
            ErrorKind.UNREACHABLE,
            "Could not reach",
        ),
        (httpx.ConnectError("refused"), ErrorKind.UNREACHABLE, "Is it running?"),
        (httpx.ReadTimeout("timed out"), ErrorKind.TIMEOUT, "stopped responding (nothing for 7 s)"),
        (openai.APITimeoutError(request=REQUEST), ErrorKind.TIMEOUT, "stopped responding"),
        (
            httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            ),
            ErrorKind.STREAM_BROKEN,
            "dropped in the middle of the reply",
        ),
        (
            ValueError("Invalid response from LLM call - None or empty."),
            ErrorKind.EMPTY_REPLY,
            "empty reply",
        ),
        (
            ValueError("This model's maximum context length is 4096 tokens"),
            ErrorKind.CONTEXT_LENGTH,
            "too long",
        ),
        (KeyError("weird"), ErrorKind.CREW_ERROR, "The crew failed: KeyError"),
        (
            openai.OpenAIError("The api_key client option must be set either by passing api_key"),
            ErrorKind.MODEL_CONFIG,
            "No API key is set for openai/m",
        ),
        (scripted_error("rate_limited"), ErrorKind.RATE_LIMITED, "(429)"),
        (scripted_error("something odd"), ErrorKind.CREW_ERROR, "something odd"),
    ],
)
def test_classification(exc: Exception, kind: ErrorKind, words: str) -> None:
    for candidate in (exc, wrapped(exc)):
        failure = describe_failure(candidate, MODEL)
        assert failure.kind is kind
        assert words in failure.message
        assert type(exc).__name__ in failure.detail


def test_unreachable_without_base_url_names_the_default() -> None:
    failure = describe_failure(httpx.ConnectError("x"), ModelConfig(model="openai/gpt-4o"))
    assert "provider's default address" in failure.message


def test_deadline_message() -> None:
    failure = deadline_failure(2.5)
    assert failure.kind is ErrorKind.DEADLINE
    assert "2.5 s" in failure.message


def _raised_while_handling(handled: BaseException, raised: BaseException) -> BaseException:
    """``raised``, raised inside an ``except`` for ``handled`` (its __context__)."""
    try:
        try:
            raise handled
        except BaseException:
            raise raised  # noqa: B904 - the context is the point
    except BaseException as exc:
        return exc


def test_json_the_stream_could_not_parse_is_an_unreadable_reply() -> None:
    try:
        json.loads("this is { not json")
    except json.JSONDecodeError as exc:
        error = _raised_while_handling(RuntimeError("no running event loop"), exc)
    failure = describe_failure(error, MODEL)
    assert failure.kind is ErrorKind.BAD_RESPONSE
    assert failure.message == "The model server sent a reply chatdesk cannot read (not valid JSON)."


def test_an_exception_being_handled_is_not_the_cause() -> None:
    error = _raised_while_handling(RuntimeError("no running event loop"), KeyError("weird"))
    assert describe_failure(error, MODEL).message == "The crew failed: KeyError: 'weird'"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><h1>502 Bad Gateway</h1></html>", "text/html"),
        ('{"detail": {"trace": "x.py:12"}}', "application/json"),
        ('["odd"]', "application/json"),
    ],
)
def test_a_server_body_that_is_not_words_is_left_out(body: str, content_type: str) -> None:
    response = httpx.Response(
        502, request=REQUEST, content=body.encode(), headers={"content-type": content_type}
    )
    try:
        data: object = json.loads(body)
        data = data.get("error", data) if isinstance(data, dict) else data
    except ValueError:
        data = body
    error = openai.InternalServerError(f"Error code: 502 - {data}", response=response, body=data)
    failure = describe_failure(error, MODEL)
    assert failure.message == "The model server had an internal error (502)."


def test_the_server_message_ends_as_a_sentence() -> None:
    error = status_error(openai.InternalServerError, 500)
    assert describe_failure(error, MODEL).message == (
        "The model server had an internal error (500): server says 500."
    )
