"""Provider entries turn a typed model name into a CrewAI model string, and base URLs
are checked before anything is saved."""

from __future__ import annotations

import pytest

from chatdesk.ui.setup.provider_choices import (
    PROVIDERS,
    base_url_problem,
    guess_provider,
    local_provider,
    provider_choice,
)


@pytest.mark.parametrize(
    ("provider", "typed", "model"),
    [
        ("openai", "gpt-4o-mini", "openai/gpt-4o-mini"),
        ("openai", "openai/gpt-4o-mini", "openai/gpt-4o-mini"),
        ("ollama", " llama3.2:latest ", "ollama/llama3.2:latest"),
        ("lmstudio", "qwen2.5", "openai/qwen2.5"),
        ("openrouter", "openai/gpt-4o-mini", "openrouter/openai/gpt-4o-mini"),
        ("openai", "  ", ""),
    ],
)
def test_model_strings_round_trip(provider: str, typed: str, model: str) -> None:
    choice = provider_choice(provider)
    assert choice is not None
    assert choice.model_string(typed) == model
    assert choice.model_string(choice.model_name(model)) == model


def test_providers_are_found_by_id_prefix_and_local_kind() -> None:
    assert len({p.id for p in PROVIDERS}) == len(PROVIDERS)
    assert guess_provider("anthropic/claude-x").id == "anthropic"
    assert guess_provider("mystery").id == "openai"
    for kind in ("ollama", "lmstudio", "llamacpp"):
        choice = local_provider(kind)
        assert choice is not None and choice.id == kind and not choice.needs_key
    assert provider_choice("nope") is None


@pytest.mark.parametrize(
    ("url", "required", "problem"),
    [
        ("", False, None),
        ("", True, "needs a base URL"),
        ("http://127.0.0.1:11434/v1", False, None),
        ("https://api.example/v1", False, None),
        ("ftp://example/v1", False, "http:// or https://"),
        ("file:///etc/passwd", False, "http:// or https://"),
        ("127.0.0.1:1234", False, "http:// or https://"),
        ("http://", False, "host name"),
        ("http://host:99999/v1", False, "not a valid address"),
        ("http://exa mple/v1", False, "spaces"),
    ],
)
def test_base_urls_must_be_http(url: str, required: bool, problem: str | None) -> None:
    found = base_url_problem(url, required=required)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
