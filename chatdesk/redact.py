"""Keeps secrets out of everything chatdesk keeps, shows, exports or logs.

Libraries log more than they should (the openai SDK prints request headers, and with
them the API key, at DEBUG), and providers send keys back: a 401 that quotes
"Incorrect API key provided: sk-…", a 500 that quotes the whole request. So every text
that comes from a provider or a crew passes :func:`redact` (errors, step details, log
lines) or at least :func:`redact_known` (reply text) before chatdesk stores, shows or
exports it, in the worker before it emits an event and in the services before they
write a row.

Two kinds of masking:

* known secrets: every key chatdesk has read (settings, keyring,
  ``CHATDESK_LLM_API_KEY``, a password or key inside a base URL), registered with
  :func:`register_secret` / :func:`register_url` as they are read, in each process;
* secret *shapes* (``Bearer …``, ``api_key=…``, ``sk-…``, ``user:pass@`` in a URL,
  ``?key=…``) for keys chatdesk never saw. These are for errors, step details and logs
  only: on a model's answer they would mangle legitimate code examples.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

MASK = "[redacted]"
MIN_SECRET_LENGTH = 6
URL_SECRET_PARAMS = frozenset(
    {"api_key", "api-key", "apikey", "key", "token", "access_token", "secret", "password"}
)
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",}]+"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|authorization|x-api-key)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^/\s:@'\"]*:)[^/\s@'\"]+(?=@)"),
    re.compile(
        r"(?i)([?&](?:" + "|".join(re.escape(p) for p in URL_SECRET_PARAMS) + r")=)[^&\s#'\"]+"
    ),
)
_secrets: set[str] = set()
_by_length: tuple[str, ...] = ()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret (and its URL-encoded form) so nothing chatdesk keeps holds it."""
    global _by_length
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.update({value, quote(value, safe="")})
        _by_length = tuple(sorted(_secrets, key=len, reverse=True))


def url_secrets(url: str | None) -> list[str]:
    """The credentials inside a URL: its userinfo and secret-named query values."""
    if not url:
        return []
    try:
        parts = urlsplit(url.strip())
        found = [parts.password or parts.username or ""]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() in URL_SECRET_PARAMS]
    except ValueError:  # not a URL: nothing to take from it
        return []
    return [value for value in found if value]


def register_url(url: str | None) -> None:
    """Register the secrets a base URL carries (``https://user:KEY@host/v1?key=KEY``)."""
    for value in url_secrets(url):
        register_secret(value)


def redact_known(text: str) -> str:
    """``text`` with every registered secret masked (safe for a model's answer)."""
    for secret in _by_length:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact(text: str) -> str:
    """``text`` with every known secret and secret-shaped token masked."""
    text = redact_known(text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: (match.group(1) if match.groups() else "") + MASK, text)
    return text


def redact_data(value: Any) -> Any:
    """A JSON-like value (step details, metadata) with :func:`redact` applied to every
    string in it, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


class StreamRedactor:
    """Masks known secrets in text that arrives in pieces, where a key can straddle two.

    The end of what has come so far is held back while it could be the start of a
    secret; it is released by the next piece (or masked with it). What is still held
    when the stream stops is at most the first characters of a secret: dropped.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = redact_known(self._held + piece)
        keep = _secret_start_at_end(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]


def _secret_start_at_end(text: str) -> int:
    """How many of ``text``'s last characters are a proper prefix of a known secret."""
    longest = 0
    for secret in _by_length:
        for size in range(min(len(secret) - 1, len(text)), longest, -1):
            if text.endswith(secret[:size]):
                longest = size
                break
    return longest


class RedactingFilter(logging.Filter):
    """A handler filter that renders the record, then masks secrets in the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
