"""What a model's tokens cost, and how large its context window is: a price table as data.

Why data: prices change more often than chatdesk, and people use models nobody listed,
so the table ships as ``resources/prices.json`` and a person may put their own
``<data dir>/prices.json`` beside it, whose entries are tried first (it wins).

The file (JSON, at most ``MAX_FILE_BYTES``)::

    {"models": [
        {"pattern": "gpt-4o-mini*", "input": 0.15, "output": 0.6, "context": 128000},
        {"pattern": "my-company/*", "input": null, "output": null, "context": 32000}
    ]}

``pattern`` is a shell-style glob (``*``, ``?``, ``[...]``), compared without regard to
case with the whole model string (``openai/gpt-4o-mini``) and with what follows each
``/`` in it (``gpt-4o-mini``), so one pattern covers every provider prefix. The first
pattern that matches wins. ``input`` and ``output`` are US dollars per million tokens
(``null``: price unknown, cost shown as unknown); ``context`` is the context window in
tokens (``null`` or left out: unknown). Other keys are ignored.

A broken override (not JSON, another shape, a wrong value, unreadable, too large) is
never fatal: the shipped table is used and ``PriceTable.problem`` says, in a sentence
for the person, what is wrong and where.

Local models cost nothing: a model of a local provider (``ollama/``, ``lm_studio/``,
...) or served from a base URL on this machine (localhost, 127.0.0.0/8, ::1) has a
cost of 0, whatever the table says.
"""

from __future__ import annotations

import fnmatch
import importlib
import ipaddress
import json
import math
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FILE_NAME = "prices.json"
MAX_FILE_BYTES = 1_000_000
MAX_ENTRIES = 5_000
MAX_PATTERN_CHARS = 200
PER_TOKENS = 1_000_000
"""Prices are per this many tokens."""
LOCAL_PROVIDERS = frozenset(
    {"ollama", "ollama_chat", "lm_studio", "lmstudio", "llamacpp", "llama_cpp", "local"}
)
"""Model string prefixes of servers that run on the person's own machine."""
RECHECK_S = 1.0
"""How often, at most, ``PriceBook`` looks whether the override file changed."""


@dataclass(frozen=True)
class Price:
    """One row of the table: a glob, dollars per million tokens in and out, a window."""

    pattern: str
    input: float | None
    output: float | None
    context: int | None

    def cost(self, tokens_in: int, tokens_out: int) -> float | None:
        """Dollars for these tokens (None when either price is unknown)."""
        if self.input is None or self.output is None:
            return None
        return (tokens_in * self.input + tokens_out * self.output) / PER_TOKENS


@dataclass(frozen=True)
class PriceTable:
    """The override's rows (if any, first), then the shipped ones.

    ``problem`` says why the override was not used (None: it was, or there is none).
    """

    prices: tuple[Price, ...]
    problem: str | None = None
    _found: dict[str, Price | None] = field(default_factory=dict, compare=False, repr=False)

    def find(self, model: str) -> Price | None:
        """The first row whose pattern matches ``model`` (module doc), if any."""
        key = model.strip().lower()
        if key in self._found:
            return self._found[key]
        names = [key, *(key[n + 1 :] for n, c in enumerate(key) if c == "/")]
        found = next(
            (
                price
                for price in self.prices
                if any(fnmatch.fnmatchcase(name, price.pattern) for name in names)
            ),
            None,
        )
        if len(self._found) < 1_000:  # a few models per person: a small memo
            self._found[key] = found
        return found

    def cost(
        self, model: str, tokens_in: int, tokens_out: int, base_url: str | None = None
    ) -> float | None:
        """Dollars for a run of ``model``: 0 for a local model, None for an unknown price."""
        if is_local(model, base_url):
            return 0.0
        price = self.find(model)
        return price.cost(tokens_in, tokens_out) if price is not None else None

    def context_window(self, model: str) -> int | None:
        """The model's context window in tokens, if the table knows it."""
        price = self.find(model)
        return price.context if price is not None else None


def is_local(model: str, base_url: str | None = None) -> bool:
    """Whether ``model`` runs on this machine: a local provider, or a local base URL."""
    provider = model.split("/", 1)[0].strip().lower() if "/" in model else ""
    if provider in LOCAL_PROVIDERS:
        return True
    if not base_url:
        return False
    try:
        host = (urlsplit(base_url.strip()).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shipped_path() -> Path:
    """The shipped table: ``resources/prices.json``, installed as ``chatdesk.resources``."""
    package = importlib.import_module("chatdesk.resources")
    assert package.__file__ is not None
    return Path(package.__file__).parent / FILE_NAME


def parse_prices(text: str, where: str) -> tuple[Price, ...]:
    """The rows of a price file's text; ``ValueError`` with a sentence if it is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where} is not valid JSON (line {error.lineno}: {error.msg})") from None
    rows = data.get("models") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f'{where} needs an object with a "models" list')
    if len(rows) > MAX_ENTRIES:
        raise ValueError(f"{where} has more than {MAX_ENTRIES:,} models")
    return tuple(_price(row, f"{where}, model {n + 1}") for n, row in enumerate(rows))


def _price(row: Any, where: str) -> Price:
    if not isinstance(row, dict):
        raise ValueError(f"{where} is not an object")
    pattern = row.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError(f'{where} needs a "pattern" (text such as "gpt-4o*")')
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"{where}: the pattern is longer than {MAX_PATTERN_CHARS} characters")
    return Price(
        pattern=pattern.strip().lower(),
        input=_dollars(row.get("input"), f"{where}: input"),
        output=_dollars(row.get("output"), f"{where}: output"),
        context=_window(row.get("context"), f"{where}: context"),
    )


def _dollars(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where} must be a number of dollars or null")
    if value < 0:
        raise ValueError(f"{where} must not be negative")
    return float(value)


def _window(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{where} must be a whole number of tokens above 0, or null")
    return value


def _read(path: Path) -> str:
    """The file's text, refusing what is not a small regular file."""
    if not stat.S_ISREG(path.stat().st_mode):  # a directory, a device, a pipe (blocks)
        raise ValueError(f"{path} is not a regular file")
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None


def load_prices(data_dir: Path | None) -> PriceTable:
    """The override in ``data_dir`` (if any) before the shipped table; never raises for
    a broken override (see ``PriceTable.problem``)."""
    broken: str | None = None
    try:
        shipped = parse_prices(_read(shipped_path()), "the shipped prices")
    except (OSError, ValueError) as error:  # a damaged installation: no prices, no crash
        shipped, broken = (), f"Prices: the shipped price table cannot be read ({error})."
    override = data_dir / FILE_NAME if data_dir is not None else None
    if override is None or not override.exists():
        return PriceTable(shipped, problem=broken)
    try:
        own = parse_prices(_read(override), str(override))
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return PriceTable(
            shipped, problem=f"Prices: {reason}. The shipped prices are used until it is fixed."
        )
    return PriceTable(own + shipped, problem=broken)


class PriceBook:
    """The table for one data directory, read again when the override file changes
    (looked at most every ``RECHECK_S``), so an edit counts without a restart."""

    def __init__(self, data_dir: Path | None) -> None:
        self._dir = data_dir
        self._table: PriceTable | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0

    def table(self) -> PriceTable:
        now = time.monotonic()
        if self._table is not None and now - self._checked < RECHECK_S:
            return self._table
        self._checked = now
        stamp = self._override_stamp()
        if self._table is None or stamp != self._stamp:
            self._table, self._stamp = load_prices(self._dir), stamp
        return self._table

    def _override_stamp(self) -> tuple[int, int] | None:
        if self._dir is None:
            return None
        try:
            status = (self._dir / FILE_NAME).stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size
