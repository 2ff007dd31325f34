"""Which models a provider offers, asked of the provider itself.

People should pick a model from what their server has, not type its name from memory.
Each kind of server lists its models in its own place:

* OpenAI and every OpenAI-compatible server (LM Studio, llama.cpp, vLLM, OpenRouter...):
  ``GET <base URL>/models`` -> ``{"data": [{"id"}]}``;
* Ollama: ``GET <host>/api/tags`` -> ``{"models": [{"name"}]}``;
* Anthropic: ``GET /v1/models`` with ``x-api-key``; Google Gemini: ``GET /v1beta/models``
  with ``x-goog-api-key`` (ids come as ``models/<name>``).

Blocking and CrewAI-free: the window calls it on a thread of its own. Every failure is a
:class:`ModelListError` whose message says what happened and what to do, with any key
masked. Nothing here is cached: "Refresh" means ask again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chatdesk.engine.protocol import ModelConfig
from chatdesk.redact import redact

TIMEOUT_S = 8.0
MAX_BODY_BYTES = 8_000_000
MAX_MODELS = 5_000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_DEFAULT_BASES = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama": "http://127.0.0.1:11434",
}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the error it is, never followed: urllib would send the
    API key's header along to wherever the server points (another host included)."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())
_WITH_PROXY = urllib.request.build_opener(_NoRedirects())


class ModelListError(Exception):
    """The models could not be listed; the message is for a person."""


@dataclass(frozen=True)
class ModelListing:
    """What a server answered: model names as its provider's picker wants them."""

    provider: str
    url: str
    names: tuple[str, ...]


def provider_of(model: str) -> str:
    """``ollama/llama3.2`` -> ``ollama``; a bare name is OpenAI's."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def list_models(config: ModelConfig, timeout_s: float = TIMEOUT_S) -> ModelListing:
    """The models the server of ``config`` offers (blocking; raises ModelListError)."""
    provider = provider_of(config.model)
    if config.is_scripted:
        raise ModelListError("The scripted model offers no list.")
    url, headers = _request_for(provider, config)
    data = _get_json(url, headers, timeout_s)
    names = _names(provider, data)
    if names is not None and provider == "openai" and not config.base_url:
        names = tuple(name for name in names if _chat_model(name))
    if names is None:
        raise ModelListError(f"{_where(url)} did not answer with a list of models.")
    return ModelListing(provider, url, names)


def list_models_at(
    provider: str, base_url: str | None, api_key: str | None, timeout_s: float = TIMEOUT_S
) -> ModelListing:
    """The models of ``provider`` (a model-string prefix: ``openai``, ``ollama``...) at
    ``base_url`` (its usual address when None), asked with ``api_key``."""
    config = ModelConfig(model=f"{provider}/", base_url=base_url, api_key=api_key)
    return list_models(config, timeout_s)


def _request_for(provider: str, config: ModelConfig) -> tuple[str, dict[str, str]]:
    base = (config.base_url or _DEFAULT_BASES.get(provider, "")).rstrip("/")
    if not base:
        raise ModelListError(
            f"chatdesk does not know where {provider} lists its models; type the model name."
        )
    key = config.api_key or ""
    headers = {"Accept": "application/json", "User-Agent": "chatdesk"}
    if provider == "ollama":
        root = base.removesuffix("/v1").removesuffix("/api")
        return f"{root}/api/tags", headers
    if provider == "anthropic":
        if key:
            headers["x-api-key"] = key
        headers["anthropic-version"] = "2023-06-01"
        return f"{base}/models?limit=1000", headers
    if provider == "gemini":
        if key:
            headers["x-goog-api-key"] = key
        return f"{base}/models?pageSize=1000", headers
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return f"{base}/models", headers


def _get_json(url: str, headers: dict[str, str], timeout_s: float) -> Any:
    where = _where(url)
    host = urlsplit(url).hostname or ""
    opener = _NO_PROXY if host in LOOPBACK_HOSTS else _WITH_PROXY
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the connection
        raise ModelListError(_http_problem(error.code, where)) from None
    except TimeoutError:
        raise ModelListError(f"{where} did not answer within {timeout_s:g} s.") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            raise ModelListError(f"{where} did not answer within {timeout_s:g} s.") from None
        if isinstance(reason, ConnectionRefusedError):
            raise ModelListError(f"Nothing answers at {where}: is the server running?") from None
        raise ModelListError(redact(f"Could not reach {where}: {reason}.")) from None
    except ValueError as error:  # a malformed URL
        raise ModelListError(redact(f"The address {url} is not usable: {error}.")) from None
    if len(body) > MAX_BODY_BYTES:
        raise ModelListError(f"{where} sent more than a model list could be.")
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise ModelListError(f"{where} did not answer with a list of models.") from None


def _http_problem(code: int, where: str) -> str:
    if code in (401, 403):
        return f"{where} refused the API key ({code}): check it in Settings."
    if code == 404:
        return f"{where} does not list its models (404): type the model name."
    if 300 <= code < 400:
        return f"{where} sent the list elsewhere ({code}); check the base URL (it is not followed)."
    if code == 429:
        return f"{where} asks to slow down (429): try Refresh in a moment."
    return f"{where} answered {code} when asked for its models."


_NOT_CHAT = ("embedding", "tts", "whisper", "dall-e", "moderation", "transcribe", "image")


def _chat_model(name: str) -> bool:
    """OpenAI's own list mixes in models that cannot chat (embeddings, speech, images)."""
    return not any(part in name for part in _NOT_CHAT)


def _where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "the server"
    return f"{host}:{parts.port}" if parts.port else host


def _names(provider: str, data: Any) -> tuple[str, ...] | None:
    if not isinstance(data, dict):
        return None
    items = data.get("models") if "models" in data else data.get("data")
    if not isinstance(items, list):
        return None
    names: list[str] = []
    for item in items[:MAX_MODELS]:
        if not isinstance(item, dict):
            continue
        name = item.get("id") or item.get("name") or item.get("model")
        if not isinstance(name, str) or not name.strip() or len(name) > 300:
            continue
        name = name.strip()
        if provider == "gemini":
            methods = item.get("supportedGenerationMethods")
            if isinstance(methods, list) and "generateContent" not in methods:
                continue  # embedding-only models cannot answer a chat
            name = name.removeprefix("models/")
        if "\n" not in name and name not in names:
            names.append(name)
    return tuple(sorted(names, key=str.casefold))
