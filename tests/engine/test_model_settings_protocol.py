"""A chat's model settings on the wire: a hostile value never reaches a provider, and
each provider gets only the settings it takes (``chatdesk.model_params``)."""

from __future__ import annotations

import json
import math

import pytest

from chatdesk.engine.protocol import (
    MAX_HISTORY_BUDGET_CHARS,
    ModelConfig,
    ProtocolError,
    RunRequest,
    decode_request,
    encode,
)
from chatdesk.model_params import (
    ModelParams,
    has_reasoning_effort,
    provider_default,
    provider_values,
    takes_sampling,
)

TUNED = ModelConfig(
    model="openai/gpt-5-mini", temperature=0.5, top_p=0.25, max_tokens=99, reasoning_effort="high"
)


def _run_line(model: dict[str, object], **extra: object) -> str:
    return json.dumps(
        {"type": "run", "run_id": "r", "crew": "assistant", "message": "hi", "model": model} | extra
    )


def test_the_settings_survive_the_round_trip() -> None:
    request = RunRequest("r", "assistant", "hi", TUNED, history_budget_chars=400)
    assert decode_request(encode(request)) == request


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("temperature", "NaN"),
        ("temperature", "Infinity"),
        ("temperature", "-1"),
        ("temperature", "2.5"),
        ("temperature", "1e999"),
        ("temperature", "true"),
        ("top_p", "-Infinity"),
        ("top_p", "1.01"),
        ("top_p", '"0.5"'),
        ("max_tokens", "0"),
        ("max_tokens", "-5"),
        ("max_tokens", "1e6"),
        ("max_tokens", "99999999999999999999999"),
        ("reasoning_effort", '"ultra"'),
        ("reasoning_effort", "3"),
    ],
)
def test_a_hostile_value_is_refused_on_the_wire(key: str, raw: str) -> None:
    line = _run_line({"model": "openai/x"})[:-2] + f', "{key}": {raw}}}}}'
    assert json.loads(line)["model"]  # well-formed JSON: only the value is hostile
    with pytest.raises(ProtocolError, match=key):
        decode_request(line)


@pytest.mark.parametrize("budget", [-1, MAX_HISTORY_BUDGET_CHARS + 1, 10**30])
def test_a_hostile_history_budget_is_refused(budget: int) -> None:
    with pytest.raises(ProtocolError, match="history_budget_chars"):
        decode_request(_run_line({"model": "openai/x"}, history_budget_chars=budget))


def test_a_config_made_in_the_gui_is_checked_too() -> None:
    with pytest.raises(ProtocolError, match="temperature"):
        ModelConfig(model="openai/x", temperature=math.nan)
    with pytest.raises(ProtocolError, match="max_tokens"):
        ModelConfig(model="openai/x", max_tokens=-1)


@pytest.mark.parametrize(
    ("model", "effort"),
    [
        ("openai/gpt-5", True),
        ("openai/gpt-5.1-mini", True),
        ("openai/o3-mini", True),
        ("o4-mini", True),
        ("azure/o1", True),
        ("openai/ft:gpt-5-mini:org:x:1", True),
        ("ollama/gpt-oss:20b", True),
        ("openai/gpt-4o", False),
        ("openai/gpt-4.1-mini", False),
        ("anthropic/claude-sonnet-4-5", False),
        ("gemini/gemini-2.5-pro", False),
        ("ollama/llama3.2", False),
        ("openai/omni-moderation", False),
    ],
)
def test_which_model_has_a_reasoning_effort(model: str, effort: bool) -> None:
    assert has_reasoning_effort(model) is effort


def test_each_provider_gets_only_what_it_takes() -> None:
    every = ModelParams(
        temperature=1.6, top_p=0.4, max_tokens=50, context_tokens=9, reasoning_effort="low"
    )
    # OpenAI's reasoning models refuse sampling values: effort and max tokens only.
    assert provider_values("openai/o3-mini", every) == {"max_tokens": 50, "reasoning_effort": "low"}
    assert not takes_sampling("openai/gpt-5")
    # A compatible server's gpt-oss takes all of them.
    assert provider_values("openai/gpt-oss-20b", every) == {
        "temperature": 1.6,
        "top_p": 0.4,
        "max_tokens": 50,
        "reasoning_effort": "low",
    }
    # Anthropic: temperature 0-1, and not together with top_p; no reasoning effort.
    assert provider_values("anthropic/claude-sonnet-4-5", every) == {
        "temperature": 1.0,
        "max_tokens": 50,
    }
    assert provider_values("anthropic/claude-3-5-haiku", ModelParams(top_p=0.3)) == {"top_p": 0.3}
    assert provider_values("gemini/gemini-2.5-flash", every) == {
        "temperature": 1.6,
        "top_p": 0.4,
        "max_tokens": 50,
    }
    assert provider_values("ollama/llama3.2", ModelParams()) == {}  # nothing unset is sent


@pytest.mark.parametrize(
    ("model", "name", "default"),
    [
        ("openai/gpt-4o", "temperature", 1.0),
        ("gpt-4o-mini", "top_p", 1.0),
        ("anthropic/claude-sonnet-4", "temperature", 1.0),
        ("anthropic/claude-sonnet-4", "top_p", None),  # documents none
        ("gemini/gemini-2.5-flash", "top_p", 0.95),
        ("ollama/llama3.2", "temperature", 0.8),
        ("openai/o3-mini", "temperature", None),  # takes none at all
        ("someserver/model", "temperature", None),  # unknown provider
        ("openai/gpt-4o", "max_tokens", None),
    ],
)
def test_the_providers_default_is_known_where_it_documents_one(
    model: str, name: str, default: float | None
) -> None:
    assert provider_default(model, name) == default
