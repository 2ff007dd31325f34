"""Which model a thread's next run uses, decided in the GUI without loading CrewAI.

Order: ``CHATDESK_LLM_MODEL`` (and its ``_BASE_URL``/``_API_KEY`` companions) beats the
thread's own model, which beats the model in settings. The API key comes from the
environment or the OS keyring (``chatdesk.secrets``), never from a file. With nothing
configured there is no model: the run fails at once with a message saying how to set
one up, and the window offers the local servers it found.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from chatdesk.engine.protocol import ModelConfig
from chatdesk.redact import register_secret, register_url
from chatdesk.runs.providers import ENV_MODEL, resolve_model_config
from chatdesk.secrets import get_api_key
from chatdesk.services.records import ThreadRecord

DEFAULT_TIMEOUT_S = 60.0

ModelResolver = Callable[[ThreadRecord], ModelConfig | None]
SettingsReader = Callable[[], Mapping[str, Any]]


def provider_of(model: str, settings: Mapping[str, Any]) -> str:
    """The provider a model string belongs to (``openai/gpt-4o`` -> ``openai``)."""
    if "/" in model:
        return model.split("/", 1)[0]
    return str(settings.get("provider") or "openai")


def _prefix(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def _same_endpoint(model: str, settings_model: str) -> bool:
    """Whether ``model`` is served where the settings' model is (same provider prefix).

    A thread that picks another model of the configured provider (another Ollama
    model, another model on the same LM Studio) keeps its base URL and API key.
    """
    if not settings_model:
        return False
    return model == settings_model or (
        bool(_prefix(model)) and _prefix(model) == _prefix(settings_model)
    )


def resolve_config(thread_model: str, settings: Mapping[str, Any]) -> ModelConfig | None:
    """The model a run would use: the environment's, else ``thread_model``, else the
    settings' (None when nothing is configured), with its base URL and key."""
    settings_model = str(settings.get("model") or "").strip()
    model = os.environ.get(ENV_MODEL, "").strip() or thread_model.strip() or settings_model
    if not model:
        return None
    same_endpoint = _same_endpoint(model, settings_model)
    timeout = settings.get("timeout_s")
    max_tokens = settings.get("max_tokens")
    config = ModelConfig(
        model=model,
        base_url=(settings.get("base_url") or None) if same_endpoint else None,
        timeout_s=float(timeout) if timeout else DEFAULT_TIMEOUT_S,
        max_tokens=int(max_tokens) if max_tokens else None,
    )
    config = resolve_model_config(config)
    if config.api_key is None and not config.is_scripted:
        # The key is kept under the settings' provider (``lmstudio``, not ``openai``),
        # so a local server never receives a cloud provider's key.
        provider = str(settings.get("provider") or "") if same_endpoint else ""
        key = get_api_key(provider or provider_of(config.model, settings))
        if key:
            config = replace(config, api_key=key)
    register_secret(config.api_key)
    register_url(config.base_url)
    return config


def make_model_resolver(read_settings: SettingsReader) -> ModelResolver:
    """A resolver reading the current settings at every run (they may have changed)."""

    def resolve(thread: ThreadRecord) -> ModelConfig | None:
        return resolve_config(thread.model or "", read_settings())

    return resolve
