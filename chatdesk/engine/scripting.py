"""The reply script of the scripted model: its format and validation (no CrewAI).

Why separate from :mod:`chatdesk.engine.scripted_llm`: scripts travel inside
``ModelConfig.script`` from the GUI side (tests, demos, the ``chatdesk.testing``
plugin), which must be able to build and check them without importing CrewAI.

A script is a list; each item answers one LLM call, in order:

* a string: the reply text, streamed in small chunks;
* an object with ``text`` and optionally
  ``chunk_size`` (characters per chunk, default 8),
  ``delay_s`` (pause before each chunk after the first, default 0),
  ``start_delay_s`` (pause before the first chunk, default 0),
  ``error`` (fail the call after streaming the text; an :class:`ErrorKind` value such
  as ``server_error`` / ``rate_limited`` / ``auth`` / ``timeout`` / ``unreachable`` /
  ``stream_broken``, or any other text for a generic failure),
  ``raw`` (true: send ``text`` exactly, without the ReAct wrapper),
  ``echo`` (true: reply with the prompt the model received, ``role: content`` per
  message — lets tests check what reached the model),
  ``tool_calls`` (a list of ``{"name": tool, "arguments": {...}}``: the model asks for
  these tools by native function calling instead of replying; a script with any such
  item makes the model a function-calling one). Tool calls in CrewAI's ReAct text
  form need nothing special: a ``raw`` reply ``Thought: …\nAction: tool\nAction Input:
  {…}`` is one.

``text`` that is empty (with no ``error``) makes the model return an empty reply,
which CrewAI rejects as it would a real empty answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chatdesk.engine.protocol import ErrorKind

DEFAULT_REPLY = "This is a scripted reply."


class ScriptError(ValueError):
    """A script item that is not valid."""


class ScriptedModelError(RuntimeError):
    """A failure the script asked for; ``error_kind`` says which (see ErrorKind)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.error_kind = kind


@dataclass(frozen=True)
class ScriptedToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ScriptedReply:
    text: str
    chunk_size: int = 8
    delay_s: float = 0.0
    start_delay_s: float = 0.0
    error: str | None = None
    raw: bool = False
    echo: bool = False
    tool_calls: tuple[ScriptedToolCall, ...] = ()


def parse_script(items: Iterable[Any] | None) -> list[ScriptedReply]:
    """Validate a script; an empty or missing one gives a single default reply."""
    replies = [_parse_item(index, item) for index, item in enumerate(items or ())]
    return replies or [ScriptedReply(DEFAULT_REPLY)]


def _parse_item(index: int, item: Any) -> ScriptedReply:
    where = f"script item {index + 1}"
    if isinstance(item, str):
        return ScriptedReply(item)
    if not isinstance(item, dict):
        raise ScriptError(f"{where}: expected a string or an object")
    unknown = set(item) - {
        "text",
        "chunk_size",
        "delay_s",
        "start_delay_s",
        "error",
        "raw",
        "echo",
        "tool_calls",
    }
    if unknown:
        raise ScriptError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    text = item.get("text", "")
    if not isinstance(text, str):
        raise ScriptError(f"{where}: 'text' must be a string")
    chunk_size = item.get("chunk_size", 8)
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ScriptError(f"{where}: 'chunk_size' must be a positive integer")
    delays = {}
    for key in ("delay_s", "start_delay_s"):
        value = item.get(key, 0.0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ScriptError(f"{where}: {key!r} must be a non-negative number")
        delays[key] = float(value)
    error = item.get("error")
    if error is not None and (not isinstance(error, str) or not error):
        raise ScriptError(f"{where}: 'error' must be a non-empty string")
    flags = {}
    for key in ("raw", "echo"):
        flags[key] = item.get(key, False)
        if not isinstance(flags[key], bool):
            raise ScriptError(f"{where}: {key!r} must be true or false")
    calls_raw = item.get("tool_calls", [])
    if not isinstance(calls_raw, list) or not all(
        isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and c["name"]
        and isinstance(c.get("arguments", {}), dict)
        for c in calls_raw
    ):
        raise ScriptError(
            f"{where}: 'tool_calls' must be a list of {{'name': ..., 'arguments': {{...}}}}"
        )
    return ScriptedReply(
        tool_calls=tuple(
            ScriptedToolCall(c["name"], dict(c.get("arguments", {}))) for c in calls_raw
        ),
        text=text,
        chunk_size=chunk_size,
        delay_s=delays["delay_s"],
        start_delay_s=delays["start_delay_s"],
        error=error,
        raw=flags["raw"],
        echo=flags["echo"],
    )


_ERROR_MESSAGES = {
    ErrorKind.SERVER_ERROR.value: "Scripted server error (500)",
    ErrorKind.RATE_LIMITED.value: "Scripted rate limit (429)",
    ErrorKind.AUTH.value: "Scripted authentication failure (401)",
    ErrorKind.TIMEOUT.value: "Scripted read timeout",
    ErrorKind.UNREACHABLE.value: "Scripted connection failure",
    ErrorKind.STREAM_BROKEN.value: "Scripted dropped stream",
    ErrorKind.BAD_REQUEST.value: "Scripted bad request (400)",
    ErrorKind.CONTEXT_LENGTH.value: "Scripted context length exceeded",
}


def scripted_error(error: str) -> ScriptedModelError:
    """The exception for a script item's ``error``."""
    if error in _ERROR_MESSAGES:
        return ScriptedModelError(error, _ERROR_MESSAGES[error])
    return ScriptedModelError(ErrorKind.CREW_ERROR.value, error)
