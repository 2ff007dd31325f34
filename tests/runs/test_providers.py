"""Model settings with environment overrides, and fast discovery of local servers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from chatdesk.engine.protocol import ModelConfig
from chatdesk.runs.providers import (
    DEFAULT_MODEL,
    ProbeTarget,
    probe_local_servers,
    resolve_model_config,
)
from chatdesk.testkit.fake_openai import running_server

SETTINGS = ModelConfig(
    model="openai/gpt-4o-mini", base_url="https://api.example/v1", api_key="k", timeout_s=9
)


def test_settings_are_used_without_overrides() -> None:
    assert resolve_model_config(SETTINGS, env={}) == SETTINGS
    assert resolve_model_config(None, env={}).model == DEFAULT_MODEL


def test_environment_overrides_settings() -> None:
    env = {
        "CHATDESK_LLM_MODEL": "ollama/llama3.2",
        "CHATDESK_LLM_BASE_URL": "http://127.0.0.1:11434/v1",
        "CHATDESK_LLM_API_KEY": "env-key",
    }
    config = resolve_model_config(SETTINGS, env=env)
    assert config.model == "ollama/llama3.2"
    assert config.base_url == "http://127.0.0.1:11434/v1"
    assert config.api_key == "env-key"
    assert config.timeout_s == 9  # untouched settings stay


def test_a_different_model_alone_drops_the_old_endpoint() -> None:
    config = resolve_model_config(SETTINGS, env={"CHATDESK_LLM_MODEL": "ollama/qwen"})
    assert config.model == "ollama/qwen"
    assert config.base_url is None and config.api_key is None


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections but never answers (the worst case for a probe)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_probe_finds_servers_and_skips_silent_or_closed_ones(silent_port: int) -> None:
    with running_server(models=["llama3.2:latest", "qwen2.5"]) as server:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            closed_port = closed.getsockname()[1]  # bound, not listening: refused
        targets = [
            ProbeTarget("ollama", "Ollama", server.port, "/api/tags"),
            ProbeTarget("lmstudio", "LM Studio", server.port, "/v1/models"),
            ProbeTarget("llamacpp", "llama.cpp", closed_port, "/v1/models"),
            ProbeTarget("llamacpp", "silent", silent_port, "/v1/models"),
        ]
        started = time.monotonic()
        found = probe_local_servers(targets, budget_s=0.3)
        elapsed = time.monotonic() - started
    assert elapsed < 0.6
    assert [s.kind for s in found] == ["ollama", "lmstudio"]
    assert found[0].models == ("llama3.2:latest", "qwen2.5")
    assert found[1].models == ("llama3.2:latest", "qwen2.5")
    ollama = found[0].model_config()
    assert ollama.model == "ollama/llama3.2:latest"
    assert ollama.base_url == f"http://127.0.0.1:{server.port}/v1"
    lmstudio = found[1].model_config("qwen2.5")
    assert lmstudio.model == "openai/qwen2.5" and lmstudio.api_key


def test_probe_of_the_default_ports_is_fast() -> None:
    started = time.monotonic()
    probe_local_servers()
    assert time.monotonic() - started < 0.6
