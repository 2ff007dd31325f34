"""Which model a run uses: settings, environment overrides, and local-server discovery.

Why here and CrewAI-free: the GUI resolves the model configuration (and offers the
models of local servers in its settings) without loading CrewAI; the worker only
receives the finished :class:`~chatdesk.engine.protocol.ModelConfig`.

* :func:`resolve_model_config` applies ``CHATDESK_LLM_MODEL`` / ``CHATDESK_LLM_BASE_URL``
  / ``CHATDESK_LLM_API_KEY`` on top of the settings.
* :func:`probe_local_servers` asks 127.0.0.1 whether Ollama (11434), LM Studio (1234)
  or llama.cpp's server (8080) is running, all at once, within about 300 ms.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from chatdesk.engine.protocol import ModelConfig

ENV_MODEL = "CHATDESK_LLM_MODEL"
ENV_BASE_URL = "CHATDESK_LLM_BASE_URL"
ENV_API_KEY = "CHATDESK_LLM_API_KEY"

DEFAULT_MODEL = "ollama/llama3.2"

# Local servers are asked directly, never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def resolve_model_config(
    settings: ModelConfig | None = None, env: Mapping[str, str] | None = None
) -> ModelConfig:
    """The settings' model config with the environment's overrides applied.

    Setting ``CHATDESK_LLM_MODEL`` alone drops the settings' base URL and API key
    (they belonged to another model) unless the matching variables are set too.
    """
    env = os.environ if env is None else env
    config = settings or ModelConfig(model=DEFAULT_MODEL)
    model = env.get(ENV_MODEL, "").strip()
    base_url = env.get(ENV_BASE_URL, "").strip()
    api_key = env.get(ENV_API_KEY, "").strip()
    if model and model != config.model:
        config = replace(config, model=model, base_url=None, api_key=None)
    if base_url:
        config = replace(config, base_url=base_url)
    if api_key:
        config = replace(config, api_key=api_key)
    return config


@dataclass(frozen=True)
class LocalServer:
    """A local model server that answered, and the models it offers."""

    kind: str  # "ollama" | "lmstudio" | "llamacpp"
    label: str
    base_url: str  # OpenAI-compatible base URL (…/v1) to give CrewAI
    models: tuple[str, ...]

    def model_config(self, model: str | None = None) -> ModelConfig:
        """A ModelConfig for one of this server's models (the first by default)."""
        name = model or (self.models[0] if self.models else "")
        if self.kind == "ollama":
            return ModelConfig(model=f"ollama/{name}", base_url=self.base_url)
        return ModelConfig(model=f"openai/{name}", base_url=self.base_url, api_key=self.kind)


@dataclass(frozen=True)
class ProbeTarget:
    kind: str
    label: str
    port: int
    path: str  # what to GET
    host: str = "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


DEFAULT_TARGETS: tuple[ProbeTarget, ...] = (
    ProbeTarget("ollama", "Ollama", 11434, "/api/tags"),
    ProbeTarget("lmstudio", "LM Studio", 1234, "/v1/models"),
    ProbeTarget("llamacpp", "llama.cpp", 8080, "/v1/models"),
)


def probe_local_servers(
    targets: Sequence[ProbeTarget] = DEFAULT_TARGETS, budget_s: float = 0.3
) -> list[LocalServer]:
    """Which local servers answer, in ``targets`` order, within ``budget_s`` overall.

    Blocking (about ``budget_s`` at worst): call it off the GUI thread, e.g. with
    ``await asyncio.to_thread(probe_local_servers)``.
    """
    deadline = time.monotonic() + budget_s
    pool = ThreadPoolExecutor(max_workers=max(1, len(targets)), thread_name_prefix="probe")
    try:
        futures = [pool.submit(_probe, target, budget_s) for target in targets]
        wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        found: list[LocalServer] = []
        for future in futures:
            if future.done() and future.exception() is None:
                server = future.result()
                if server is not None:
                    found.append(server)
        return found
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _probe(target: ProbeTarget, timeout_s: float) -> LocalServer | None:
    url = f"http://{target.host}:{target.port}{target.path}"
    try:
        with _OPENER.open(url, timeout=timeout_s) as response:
            if response.status != 200:
                return None
            data = json.loads(response.read(1_000_000) or b"null")
    except (OSError, ValueError, urllib.error.URLError):
        return None
    models = _model_names(data)
    if models is None:
        return None
    return LocalServer(target.kind, target.label, target.base_url, models)


def _model_names(data: Any) -> tuple[str, ...] | None:
    """Model ids from Ollama's ``{"models": [{"name"}]}`` or OpenAI's ``{"data": [{"id"}]}``."""
    if not isinstance(data, dict):
        return None
    items = data.get("models") if "models" in data else data.get("data")
    if not isinstance(items, list):
        return None
    names = []
    for item in items:
        if isinstance(item, dict):
            name = item.get("name") or item.get("model") or item.get("id")
            if isinstance(name, str) and name:
                names.append(name)
    return tuple(names)
