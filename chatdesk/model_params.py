"""A chat's model settings: the values, their limits and which models take which.

Why one stdlib-only module every layer may import: the same limits guard the
store's writes (services), a chat file's import, the crew YAML's defaults, the
worker's protocol and the spin boxes' ranges, and the rule "which model has a
reasoning effort" must be decided in one place. ``None`` always means "the
provider's default": nothing is sent.

The context budget is set in **tokens**, which is what model cards and people count
in; the history is trimmed by characters (no tokenizer in the GUI, and each model
has its own), at :data:`CHARS_PER_TOKEN` characters per token, OpenAI's published
rule of thumb for English text (code and other scripts use more tokens per
character, so the estimate errs on the side of sending less).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

CHARS_PER_TOKEN: Final = 4
"""Characters per token when a token budget becomes the history's character budget."""

DEFAULT_CONTEXT_TOKENS: Final = 3_000
"""The history sent when neither the chat nor its crew says (12,000 characters)."""

TEMPERATURE_RANGE: Final = (0.0, 2.0)
TOP_P_RANGE: Final = (0.0, 1.0)
MAX_TOKENS_RANGE: Final = (1, 1_000_000)
CONTEXT_TOKENS_RANGE: Final = (1, 2_000_000)
REASONING_EFFORTS: Final = ("low", "medium", "high")

FIELDS: Final = ("temperature", "top_p", "max_tokens", "context_tokens", "reasoning_effort")


class ModelParamError(ValueError):
    """A model setting out of its range or of the wrong kind; names the setting."""


@dataclass(frozen=True)
class ModelParams:
    """A chat's (or a crew's) model settings; ``None``: the provider's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    context_tokens: int | None = None
    """How much history is sent, in tokens (see :data:`CHARS_PER_TOKEN`)."""
    reasoning_effort: str | None = None

    def __post_init__(self) -> None:
        _number("temperature", self.temperature, TEMPERATURE_RANGE)
        _number("top_p", self.top_p, TOP_P_RANGE)
        _integer("max_tokens", self.max_tokens, MAX_TOKENS_RANGE)
        _integer("context_tokens", self.context_tokens, CONTEXT_TOKENS_RANGE)
        if self.reasoning_effort is not None and self.reasoning_effort not in REASONING_EFFORTS:
            raise ModelParamError(
                f"reasoning_effort: expected one of {', '.join(REASONING_EFFORTS)}."
            )

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """The set values only (an empty dict when every value is the default)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: object, where: str = "model settings") -> ModelParams:
        """Checked values from JSON-like data (``None``: all defaults); raises
        :class:`ModelParamError` naming ``where`` on anything else, unknown keys too."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ModelParamError(f"{where}: expected an object.")
        unknown = sorted(str(key) for key in data if key not in FIELDS)
        if unknown:
            raise ModelParamError(f"{where}: unknown setting(s) {', '.join(unknown)}.")
        values = {str(key): value for key, value in data.items()}
        for name in ("temperature", "top_p"):  # JSON and YAML write 1.0 as 1
            if type(values.get(name)) is int:
                values[name] = float(values[name])
        try:
            return cls(**values)
        except ModelParamError as error:
            raise ModelParamError(f"{where}.{error}") from None

    def over(self, defaults: ModelParams) -> ModelParams:
        """These values, with ``defaults``' where these are unset (a chat over its crew)."""
        return replace(
            defaults,
            **{name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None},
        )


def history_budget_chars(params: ModelParams) -> int:
    """The history's character budget for these settings (the default when unset)."""
    tokens = params.context_tokens or DEFAULT_CONTEXT_TOKENS
    return tokens * CHARS_PER_TOKEN


def _number(name: str, value: object, bounds: tuple[float, float]) -> None:
    if value is None:
        return
    low, high = bounds
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ModelParamError(f"{name}: expected a number from {low:g} to {high:g}.")


def _integer(name: str, value: object, bounds: tuple[int, int]) -> None:
    if value is None:
        return
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelParamError(f"{name}: expected a whole number from {low:,} to {high:,}.")


NO_PARAMS: Final = ModelParams()
"""Every value the default."""


# -- which model takes what ------------------------------------------------------------

_O_SERIES: Final = re.compile(r"^o\d")
_GPT_GENERATION: Final = re.compile(r"^gpt-(\d+)")
_GPT_OSS: Final = re.compile(r"^gpt-oss")
_OPENAI_ROUTES: Final = frozenset({"", "openai", "azure"})


def _name(model: str) -> str:
    return model.rsplit("/", 1)[-1].strip().lower().removeprefix("ft:")


def _route(model: str) -> str:
    return model.split("/", 1)[0].strip().lower() if "/" in model else ""


def _openai_reasoning(model: str) -> bool:
    """OpenAI's reasoning families: the o-series and GPT 5 onwards."""
    name = _name(model)
    generation = _GPT_GENERATION.match(name)
    return bool(_O_SERIES.match(name)) or (generation is not None and int(generation.group(1)) >= 5)


def has_reasoning_effort(model: str) -> bool:
    """Whether ``model`` takes a reasoning effort: OpenAI's o-series and GPT 5 onwards
    (on OpenAI's route, Azure's, or an OpenAI-compatible server serving them) and the
    open-weight gpt-oss models (local servers take their ``reasoning_effort``)."""
    route = _route(model)
    if route not in _OPENAI_ROUTES | {"ollama", "hosted_vllm", "lm_studio"}:
        return False
    return _openai_reasoning(model) or bool(_GPT_OSS.match(_name(model)))


def takes_sampling(model: str) -> bool:
    """Whether ``model`` takes temperature and top-p: OpenAI's reasoning models refuse
    anything but their default (HTTP 400), so they are never sent one."""
    return not (_route(model) in _OPENAI_ROUTES and _openai_reasoning(model))


_PROVIDER_SAMPLING: Final[dict[str, tuple[float | None, float | None]]] = {
    "openai": (1.0, 1.0),
    "azure": (1.0, 1.0),
    "anthropic": (1.0, None),
    "gemini": (1.0, 0.95),
    "mistral": (0.7, 1.0),
    "ollama": (0.8, 0.9),
}
"""(temperature, top-p) a provider uses when none is sent, as its API reference gives
them (Ollama: its Modelfile defaults); None where it documents none."""


def provider_default(model: str, name: str) -> float | None:
    """What ``model``'s provider uses for ``temperature`` or ``top_p`` when chatdesk
    sends none (shown beside "Default"); None when unknown or not sent at all."""
    route = _route(model) or "openai"
    pair = _PROVIDER_SAMPLING.get(route)
    if pair is None or not takes_sampling(model):
        return None
    return pair[0] if name == "temperature" else pair[1] if name == "top_p" else None


def provider_values(model: str, params: ModelParams) -> dict[str, Any]:
    """The LLM settings ``model``'s provider accepts, from ``params`` (unset ones absent).

    Anthropic takes temperature 0 to 1 (clamped) and refuses temperature and top-p
    together on its newer models (temperature wins); reasoning effort goes only to
    models that have it (:func:`has_reasoning_effort`).
    """
    values: dict[str, Any] = {}
    route = _route(model)
    if takes_sampling(model):
        if params.temperature is not None:
            values["temperature"] = params.temperature
        if params.top_p is not None:
            values["top_p"] = params.top_p
    if route == "anthropic" and "temperature" in values:
        values["temperature"] = min(values["temperature"], 1.0)
        values.pop("top_p", None)
    if params.max_tokens is not None:
        values["max_tokens"] = params.max_tokens
    if params.reasoning_effort is not None and has_reasoning_effort(model):
        values["reasoning_effort"] = params.reasoning_effort
    return values
