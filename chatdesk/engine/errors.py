"""Turn whatever a crew run raised into a clear, human message plus an ErrorKind code.

Why: CrewAI lets provider exceptions through in many shapes (openai status errors,
bare httpx timeouts, ``ConnectionError: Failed to connect…``, ``ValueError: Invalid
response from LLM call - None or empty``), often wrapped in other exceptions. People
need one plain sentence on the bubble; the GUI needs a stable code to decide what to
offer (Retry, open settings). Classification walks the whole cause chain and uses
duck typing (``status_code``, ``response.headers``) so it works for every provider
SDK, and never needs CrewAI imported. Servers' words may quote the API key: the outbox
redacts every event (``event_redaction``) before it leaves the worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from chatdesk.engine.protocol import ErrorKind, ModelConfig
from chatdesk.redact import redact


@dataclass(frozen=True)
class Failure:
    kind: ErrorKind
    message: str  # for people
    detail: str  # for logs: exception types and texts


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes/contexts, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised *from*: not the exceptions it interrupted.

    An exception's ``__context__`` is whatever was being handled when it was raised
    (CrewAI raises inside ``except`` blocks of unrelated errors), so it is no cause.
    """
    chain = [exc]
    while chain[-1].__cause__ is not None and chain[-1].__cause__ not in chain:
        chain.append(chain[-1].__cause__)
    return chain


def describe_failure(exc: BaseException, model: ModelConfig) -> Failure:
    """The :class:`Failure` for an exception raised by a run using ``model``."""
    chain = list(exception_chain(exc))
    causes = cause_chain(exc)
    detail = " <- ".join(f"{type(e).__name__}: {_short(str(e), 300)}" for e in chain)

    def failure(kind: ErrorKind, message: str) -> Failure:
        return Failure(kind, message, detail)

    # A base URL may carry a key (user:KEY@host, ?key=KEY): shown only masked.
    server = redact(model.base_url) if model.base_url else "the provider's default address"

    # 1. A failure the scripted model was told to produce names its kind directly.
    for e in chain:
        kind = getattr(e, "error_kind", None)
        if isinstance(kind, str) and kind in ErrorKind._value2member_map_:
            scripted = ErrorKind(kind)
            if scripted is ErrorKind.CREW_ERROR:
                return failure(scripted, f"The crew failed: {e}")
            return failure(scripted, _message_for(scripted, model, server, None, None))

    # 2. An HTTP status from the server says the most.
    for e in chain:
        code = _status_code(e)
        if code is None:
            continue
        server_message = _server_message(e)
        if code in (401, 403):  # what the server said helps ("Incorrect API key provided")
            text = _message_for(ErrorKind.AUTH, model, server, code, None).removesuffix(".")
            return failure(ErrorKind.AUTH, _with_server_message(text, server_message))
        if code == 429:
            retry_after = _retry_after(e)
            return failure(
                ErrorKind.RATE_LIMITED,
                _message_for(ErrorKind.RATE_LIMITED, model, server, code, retry_after),
            )
        if code >= 500:
            text = f"The model server had an internal error ({code})"
            return failure(ErrorKind.SERVER_ERROR, _with_server_message(text, server_message))
        if _mentions_context_length(server_message):
            return failure(
                ErrorKind.CONTEXT_LENGTH,
                _message_for(ErrorKind.CONTEXT_LENGTH, model, server, code, None),
            )
        if code == 404:
            text = f"The model server does not know the model {model.model!r} (404)"
            return failure(ErrorKind.BAD_REQUEST, _with_server_message(text, server_message))
        text = f"The model server rejected the request ({code})"
        return failure(ErrorKind.BAD_REQUEST, _with_server_message(text, server_message))

    names = {type(e).__name__ for e in chain}
    texts = " ".join(str(e) for e in chain).lower()

    # 2b. The server answered, but with something that does not parse.
    if any(isinstance(e, json.JSONDecodeError) for e in causes):
        return failure(
            ErrorKind.BAD_RESPONSE,
            _message_for(ErrorKind.BAD_RESPONSE, model, server, None, None),
        )

    # 3. Transport failures, the most specific first.
    if any(isinstance(e, httpx.ConnectTimeout | httpx.ConnectError) for e in chain) or (
        any(isinstance(e, ConnectionRefusedError) for e in chain)
    ):
        return failure(
            ErrorKind.UNREACHABLE, _message_for(ErrorKind.UNREACHABLE, model, server, None, None)
        )
    if (
        any(isinstance(e, httpx.RemoteProtocolError | httpx.ReadError) for e in chain)
        or "incomplete chunked read" in texts
        or "peer closed connection" in texts
    ):
        return failure(
            ErrorKind.STREAM_BROKEN,
            _message_for(ErrorKind.STREAM_BROKEN, model, server, None, None),
        )
    if (
        any(isinstance(e, httpx.TimeoutException | TimeoutError) for e in chain)
        or "APITimeoutError" in names
    ):
        return failure(
            ErrorKind.TIMEOUT, _message_for(ErrorKind.TIMEOUT, model, server, None, None)
        )
    if "APIConnectionError" in names or any(
        isinstance(e, ConnectionError) or "failed to connect" in str(e).lower() for e in chain
    ):
        return failure(
            ErrorKind.UNREACHABLE, _message_for(ErrorKind.UNREACHABLE, model, server, None, None)
        )

    # 4. Settings that cannot work, and what CrewAI itself reports.
    if "api_key" in texts and ("must be set" in texts or "missing" in texts):
        return failure(
            ErrorKind.MODEL_CONFIG,
            f"No API key is set for {model.model}. Add one in Settings "
            "(or set CHATDESK_LLM_API_KEY).",
        )
    if "LLMContextLengthExceededError" in names or _mentions_context_length(texts):
        return failure(
            ErrorKind.CONTEXT_LENGTH,
            _message_for(ErrorKind.CONTEXT_LENGTH, model, server, None, None),
        )
    if "invalid response from llm call - none or empty" in texts:
        return failure(
            ErrorKind.EMPTY_REPLY, _message_for(ErrorKind.EMPTY_REPLY, model, server, None, None)
        )
    root = causes[-1]  # CrewAI re-raises in wrappers; the original says what happened
    return failure(
        ErrorKind.CREW_ERROR, f"The crew failed: {type(root).__name__}: {_short(str(root), 300)}"
    )


def deadline_failure(deadline_s: float) -> Failure:
    return Failure(
        ErrorKind.DEADLINE,
        f"The reply took longer than its {deadline_s:g} s limit and was stopped.",
        f"deadline of {deadline_s:g} s reached",
    )


def _message_for(
    kind: ErrorKind,
    model: ModelConfig,
    server: str,
    code: int | None,
    retry_after: float | None,
) -> str:
    if kind is ErrorKind.UNREACHABLE:
        return f"Could not reach the model server at {server}. Is it running?"
    if kind is ErrorKind.AUTH:
        if code == 403:
            return "The server refused access with this API key (403)."
        return "The server rejected the API key (401)."
    if kind is ErrorKind.RATE_LIMITED:
        wait = f" Try again in {retry_after:g} s." if retry_after else " Try again in a moment."
        return "The model server is rate limiting requests (429)." + wait
    if kind is ErrorKind.SERVER_ERROR:
        return f"The model server had an internal error ({code or 500})."
    if kind is ErrorKind.BAD_REQUEST:
        return f"The model server rejected the request ({code or 400})."
    if kind is ErrorKind.TIMEOUT:
        return f"The model server stopped responding (nothing for {model.timeout_s:g} s)."
    if kind is ErrorKind.STREAM_BROKEN:
        return "The connection to the model server dropped in the middle of the reply."
    if kind is ErrorKind.EMPTY_REPLY:
        return "The model returned an empty reply."
    if kind is ErrorKind.BAD_RESPONSE:
        return "The model server sent a reply chatdesk cannot read (not valid JSON)."
    if kind is ErrorKind.CONTEXT_LENGTH:
        return "The conversation is too long for this model's context window."
    return "The crew failed."


def _status_code(e: BaseException) -> int | None:
    code = getattr(e, "status_code", None)
    if not isinstance(code, int):
        code = getattr(getattr(e, "response", None), "status_code", None)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return None


def _server_message(e: BaseException) -> str | None:
    """What the server said, when it said it in words (never a JSON or HTML dump)."""
    body: Any = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            inner = inner.get("message", inner.get("detail"))
        body = inner
    if isinstance(body, str):
        return _plain(body)
    if body is None and not hasattr(e, "response"):  # not an HTTP error: its own words
        message = getattr(e, "message", None)
        return _plain(message) if isinstance(message, str) else None
    return None


def _plain(text: str) -> str | None:
    """``text`` when it reads as a sentence: no markup, no data, no SDK prefix."""
    text = " ".join(text.split())
    if not text or any(c in text for c in "<>{}[]") or text.startswith("Error code:"):
        return None
    return text


def _retry_after(e: BaseException) -> float | None:
    headers = getattr(getattr(e, "response", None), "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _mentions_context_length(text: str | None) -> bool:
    if not text:
        return False
    lowered = text.lower()
    return (
        "context length" in lowered or "context window" in lowered or "maximum context" in lowered
    )


def _with_server_message(text: str, server_message: str | None) -> str:
    """``text``, then the server's own words, ending as a sentence does."""
    if not server_message or not server_message.strip():
        return text + "."
    said = _short(server_message, 200)
    return f"{text}: {said}" + ("" if said[-1] in ".!?…" else ".")


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
