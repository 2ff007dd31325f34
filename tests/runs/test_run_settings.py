"""A run takes the chat's model settings over its crew's (``crew.yaml``'s ``llm:``), over
the provider's defaults; the context meter reads the same budget the run uses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.engine.crews import CrewDefinitionError, load_crew
from chatdesk.engine.protocol import ModelConfig, RunRequest
from chatdesk.model_params import CHARS_PER_TOKEN, DEFAULT_CONTEXT_TOKENS, ModelParams
from chatdesk.runs.coordinator import Coordinator
from chatdesk.runs.run_settings import context_budget_tokens, effective_params
from chatdesk.services import Services
from chatdesk.store.migrate import open_store

AGENTS = "helper:\n  role: Helper\n  goal: Help\n  backstory: '{system_prompt}'\n"
TASKS = "answer:\n  description: '{history} {message}'\n  expected_output: A reply\n"


class FakeTransport:
    def __init__(self) -> None:
        self.requests: list[RunRequest] = []

    def submit(self, request: RunRequest) -> None:
        self.requests.append(request)

    def cancel(self, run_id: str) -> None:
        pass

    def answer(self, run_id: str, call_id: str, decision: str) -> None:
        pass


def _crew(data_dir: Path, name: str, crew_yaml: str) -> Path:
    folder = data_dir / "crews" / name
    folder.mkdir(parents=True)
    (folder / "crew.yaml").write_text(crew_yaml)
    (folder / "agents.yaml").write_text(AGENTS)
    (folder / "tasks.yaml").write_text(TASKS)
    return folder


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    yield Services(store)
    store.close()


def test_the_chats_values_win_over_its_crews_and_the_run_carries_them(
    qtbot: QtBot,
    services: Services,
    _isolated_data_dir: Path,
    chatdesk_loop: asyncio.AbstractEventLoop,
) -> None:
    _crew(
        _isolated_data_dir,
        "tuned",
        "title: Tuned\nllm:\n  temperature: 1\n  top_p: 0.8\n  context_tokens: 50\n",
    )
    user = services.users.ensure()
    thread = services.threads.create(user, "t", crew="tuned")
    services.chat_model_settings.set(user, thread.id, ModelParams(temperature=0.2, max_tokens=9))
    assert effective_params(services, user, thread.id) == ModelParams(
        temperature=0.2, top_p=0.8, max_tokens=9, context_tokens=50
    )
    assert context_budget_tokens(services, user, thread.id) == 50

    transport = FakeTransport()
    settings_model = ModelConfig(model="openai/gpt-4o", max_tokens=4000)  # Settings' max tokens
    coordinator = Coordinator(services, transport, lambda _t: settings_model, deadline_s=30)
    try:
        services.messages.send(user, thread.id, "x" * 500, triggers_execution=False)
        services.messages.send(user, thread.id, "hello")
        qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=5000)
    finally:
        coordinator.shutdown()
    request = transport.requests[0]
    assert (request.model.temperature, request.model.top_p) == (0.2, 0.8)
    assert request.model.max_tokens == 9  # the chat's value wins over Settings'
    assert request.model.reasoning_effort is None
    assert request.history_budget_chars == 50 * CHARS_PER_TOKEN


def test_without_values_the_budget_is_the_default_and_settings_max_tokens_stay(
    services: Services,
) -> None:
    user = services.users.ensure()
    thread = services.threads.create(user, "t")
    assert context_budget_tokens(services, user, thread.id) == DEFAULT_CONTEXT_TOKENS
    assert (
        RunRequest("r", "c", "m", ModelConfig("x")).history_budget_chars
        == DEFAULT_CONTEXT_TOKENS * CHARS_PER_TOKEN
    )


def test_a_crew_with_hostile_defaults_is_broken_with_its_line(tmp_path: Path) -> None:
    folder = _crew(tmp_path, "bad", "title: Bad\nllm:\n  temperature: .nan\n")
    with pytest.raises(CrewDefinitionError, match=r"crew\.yaml:2: llm\.temperature"):
        load_crew(folder)
    folder = _crew(tmp_path, "odd", "llm:\n  seed: 3\n")
    with pytest.raises(CrewDefinitionError, match="unknown setting"):
        load_crew(folder)
