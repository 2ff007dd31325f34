"""A chat's model settings reach the model server as set, and only where the model
takes them: the real coordinator, the real worker running real CrewAI, real HTTP to
the fake OpenAI server (its recorded request bodies are what a provider would get)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import ModelConfig
from chatdesk.model_params import ModelParams
from chatdesk.runs.coordinator import Coordinator
from chatdesk.services import Services
from chatdesk.services.records import ThreadRecord
from chatdesk.store.migrate import open_store
from chatdesk.testkit.fake_openai import FakeOpenAIServer, reply
from chatdesk.vocabulary import ExecutionStatus

OLD = "old-" + "x" * 3000
RECENT = "What did we say about trams?"
ANSWER = "Thought: I now can give a great answer\nFinal Answer: Trams run late."


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    yield Services(store)
    store.close()


def _chat(services: Services, user: int, title: str, params: ModelParams) -> int:
    thread = services.threads.create(user, title)
    services.messages.send(user, thread.id, OLD, triggers_execution=False)
    services.messages.send(user, thread.id, RECENT, triggers_execution=False)
    services.chat_model_settings.set(user, thread.id, params)
    return thread.id


def test_each_chats_settings_arrive_as_set_and_unset_ones_stay_away(
    qtbot: QtBot,
    client: WorkerClient,
    fake_server: FakeOpenAIServer,
    services: Services,
    chatdesk_loop: asyncio.AbstractEventLoop,
) -> None:
    user = services.users.ensure()
    tuned = _chat(
        services,
        user,
        "tuned",
        ModelParams(
            temperature=0.25, top_p=0.5, max_tokens=77, context_tokens=100, reasoning_effort="low"
        ),
    )
    plain = _chat(services, user, "plain", ModelParams())
    no_effort = _chat(
        services, user, "gpt-4o", ModelParams(temperature=1.5, reasoning_effort="high")
    )
    models = {tuned: "openai/gpt-oss-20b", plain: "openai/gpt-oss-20b", no_effort: "openai/gpt-4o"}

    def resolve(thread: ThreadRecord) -> ModelConfig:
        return ModelConfig(
            model=models[thread.id],
            base_url=fake_server.base_url,
            api_key="sk-test",
            timeout_s=5.0,
            max_retries=0,
        )

    fake_server.set_script([reply(ANSWER)] * 3)
    coordinator = Coordinator(services, client, resolve, deadline_s=30, max_concurrent=1)
    client.event_received.connect(coordinator.on_worker_event)
    try:
        for chat in (tuned, plain, no_effort):
            sent = services.messages.send(user, chat, f"Tell me, {chat}?")
            assert sent.execution is not None
            execution = sent.execution.id

            def done(execution: int = execution) -> bool:
                return services.executions.get(user, execution).status is ExecutionStatus.COMPLETED

            qtbot.waitUntil(done, timeout=30_000)
    finally:
        client.event_received.disconnect(coordinator.on_worker_event)
        coordinator.shutdown()

    bodies = {_chat_of(r.body): r.body for r in fake_server.chat_requests() if r.body}
    tuned_body, plain_body, gpt4o_body = bodies[tuned], bodies[plain], bodies[no_effort]
    assert tuned_body["temperature"] == 0.25
    assert tuned_body["top_p"] == 0.5
    assert _max_tokens(tuned_body) == 77
    assert tuned_body["reasoning_effort"] == "low"
    for key in ("temperature", "top_p", "max_tokens", "max_completion_tokens", "reasoning_effort"):
        assert key not in plain_body, key
    assert gpt4o_body["temperature"] == 1.5
    assert "reasoning_effort" not in gpt4o_body  # gpt-4o has none: never sent one

    # The context budget trims what is sent: 100 tokens keep the recent question only.
    assert RECENT in _prompt(tuned_body) and "old-" not in _prompt(tuned_body)
    assert "x" * 400 not in _prompt(tuned_body)
    assert RECENT in _prompt(plain_body) and OLD in _prompt(plain_body)  # default: 3,000 tokens


def _prompt(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in body["messages"])


def _chat_of(body: dict[str, Any] | None) -> int:
    """Which chat a request answers (its question names the chat's id)."""
    assert body is not None
    text = _prompt(body)
    marker = text.rindex("Tell me, ")
    return int(text[marker + len("Tell me, ") :].split("?", 1)[0])


def _max_tokens(body: dict[str, Any]) -> Any:
    return body.get("max_tokens", body.get("max_completion_tokens"))
