"""A reply's tokens and cost, a chat's total, and how full its next run's context is.

Why in ``runs``: which model a chat's next run takes, and where that model is served
(a local base URL costs nothing), is decided here (``model_choice``, ``providers``);
the window only shows the answers. Prices come from ``chatdesk.prices``.

Tokens are estimated from characters with one rule, ``model_params.CHARS_PER_TOKEN``
(four characters a token, rounded up: what OpenAI's guidance and CrewAI's own fallback
use for English), the rule the runs trim the history by. The budget is the chat's
(``run_settings.context_budget_tokens``); the meter warns from ``WARN_AT`` of it,
before anything is trimmed.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatdesk.model_params import CHARS_PER_TOKEN
from chatdesk.prices import PriceBook, PriceTable
from chatdesk.runs.model_settings import read_model_settings
from chatdesk.runs.providers import ENV_BASE_URL, ENV_MODEL
from chatdesk.services.records import ExecutionRecord, RunTokens, ThreadRecord
from chatdesk.services.usage import HistorySize, ModelTotals

WARN_AT = 0.8
"""The share of the budget (or of the model's window) from which the meter warns."""
SETTINGS_TTL_S = 2.0
"""How long the model settings read from ``ui.ini`` are reused (they rarely change)."""

SettingsReader = Callable[[], Mapping[str, Any]]


def estimate_tokens(chars: int) -> int:
    """Tokens of ``chars`` characters of text, by the module's one rule."""
    return -(-max(chars, 0) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class ReplyUsage:
    """The ``usage`` role of a reply: tokens in and out, cost in US dollars (None:
    the model's price is unknown) and the model that ran."""

    tokens_in: int
    tokens_out: int
    cost: float | None
    model: str


@dataclass(frozen=True)
class ChatTotals:
    """A chat's runs together: tokens in and out, and the cost of those whose price
    is known (``unpriced`` tokens were spent on models of unknown price)."""

    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    unpriced: int = 0

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


class Fill(enum.Enum):
    """The meter's state: room left, close to trimming, or trimming already."""

    OK = "ok"
    WARNING = "warning"
    TRIMMED = "trimmed"


@dataclass(frozen=True)
class ContextFill:
    """How full the next run's context is with the chat's history.

    ``limit_tokens`` is what the history may take: the budget, or the model's window
    when that is smaller (``window_tokens`` None: unknown, the budget alone).
    """

    history_chars: int
    budget_chars: int
    window_tokens: int | None

    @property
    def sent_chars(self) -> int:
        return min(self.history_chars, self.budget_chars)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.sent_chars)

    @property
    def limit_tokens(self) -> int:
        budget = estimate_tokens(self.budget_chars)
        return min(budget, self.window_tokens) if self.window_tokens else budget

    @property
    def fraction(self) -> float:
        """The history's share of ``limit_tokens`` (above 1 only past a small window)."""
        return self.tokens / self.limit_tokens if self.limit_tokens else 1.0

    @property
    def state(self) -> Fill:
        if self.history_chars > self.budget_chars:
            return Fill.TRIMMED
        if self.fraction >= WARN_AT:
            return Fill.WARNING
        return Fill.OK


class Pricing:
    """Prices for one data directory, with what decides whether a model is local.

    A model served where the settings' model is (same provider prefix) uses the
    settings' base URL, as ``model_choice.resolve_config`` does; ``CHATDESK_LLM_*``
    override it. The settings are read at most every ``SETTINGS_TTL_S``.
    """

    def __init__(
        self, data_dir: Path | None, read_settings: SettingsReader = read_model_settings
    ) -> None:
        self.book = PriceBook(data_dir)
        self._read_settings = read_settings
        self._settings: Mapping[str, Any] = {}
        self._read_at: float | None = None

    def table(self) -> PriceTable:
        return self.book.table()

    def _model_settings(self) -> Mapping[str, Any]:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= SETTINGS_TTL_S:
            self._read_at = now
            try:
                self._settings = self._read_settings()
            except Exception:  # an unreadable ui.ini: no base URL known
                self._settings = {}
        return self._settings

    def forget_settings(self) -> None:
        """Read the model settings afresh next time (Settings just changed them)."""
        self._read_at = None

    def base_url_for(self, model: str) -> str | None:
        """Where ``model`` is served, if chatdesk knows (module doc)."""
        env_model = os.environ.get(ENV_MODEL, "").strip()
        env_url = os.environ.get(ENV_BASE_URL, "").strip()
        if env_url and (not env_model or env_model == model):
            return env_url
        settings = self._model_settings()
        settings_model = str(settings.get("model") or "").strip()
        same = model == settings_model or _prefix(model) == _prefix(settings_model)
        if settings_model and same:
            return str(settings.get("base_url") or "") or None
        return None

    def next_model(self, thread: ThreadRecord | None) -> str:
        """The model the chat's next run takes (``model_choice``'s order), "" for none."""
        env_model = os.environ.get(ENV_MODEL, "").strip()
        thread_model = (thread.model or "").strip() if thread is not None else ""
        settings_model = str(self._model_settings().get("model") or "").strip()
        return env_model or thread_model or settings_model

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float | None:
        return self.table().cost(model, tokens_in, tokens_out, self.base_url_for(model))

    def reply_usage(self, tokens: RunTokens | None) -> ReplyUsage | None:
        """The ``usage`` of a reply whose run reported ``tokens`` (None: it reported none)."""
        if tokens is None or (tokens.prompt_tokens is None and tokens.completion_tokens is None):
            return None
        model = tokens.model or ""
        tokens_in, tokens_out = tokens.prompt_tokens or 0, tokens.completion_tokens or 0
        cost = self.cost(model, tokens_in, tokens_out) if model else None
        return ReplyUsage(tokens_in, tokens_out, cost, model)

    def totals(self, by_model: Sequence[ModelTotals]) -> ChatTotals:
        """A chat's totals from its tokens by model."""
        tokens_in = tokens_out = unpriced = 0
        cost = 0.0
        for row in by_model:
            tokens_in += row.prompt_tokens
            tokens_out += row.completion_tokens
            spent = (
                self.cost(row.model, row.prompt_tokens, row.completion_tokens)
                if row.model
                else None
            )
            if spent is None:
                unpriced += row.prompt_tokens + row.completion_tokens
            else:
                cost += spent
        return ChatTotals(tokens_in, tokens_out, cost, unpriced)

    def context_fill(
        self, thread: ThreadRecord | None, history: HistorySize, budget_chars: int
    ) -> ContextFill:
        """How full the next run's context would be with ``history``, trimmed to
        ``budget_chars`` (``run_settings.context_budget_tokens``, in characters)."""
        model = self.next_model(thread)
        window = self.table().context_window(model) if model else None
        return ContextFill(history.chars, budget_chars, window)


def tokens_of(execution: ExecutionRecord) -> RunTokens:
    """An execution's tokens as a page reads them (a run ending, seen on the bus)."""
    return RunTokens(execution.model, execution.prompt_tokens, execution.completion_tokens)


def _prefix(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""
