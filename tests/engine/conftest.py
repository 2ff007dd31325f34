"""Fixtures for the engine tests: a real worker process, an event recorder, a fake server.

Starting a worker costs ~3 s (importing CrewAI), so one worker client is shared by
the tests of a session; tests tell their runs apart by unique run ids. Tests that
need special client settings (short ping timeouts) start their own.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import (
    ChunkEvent,
    CompletedEvent,
    ModelConfig,
    ResetEvent,
    RunEvent,
    RunRequest,
    is_terminal,
)
from chatdesk.testkit.fake_openai import FakeOpenAIServer, running_server

# Generous for a loaded 2-core machine; a healthy start takes ~3 s.
READY_TIMEOUT_MS = 60_000
_run_numbers = itertools.count(1)


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{os.getpid()}-{next(_run_numbers)}"


def scripted(*replies: Any, **overrides: Any) -> ModelConfig:
    return ModelConfig(model="scripted", script=tuple(replies), **overrides)


def run_request(
    model: ModelConfig,
    message: str = "Hi there",
    crew: str = "assistant",
    **kwargs: Any,
) -> RunRequest:
    return RunRequest(
        run_id=kwargs.pop("run_id", None) or new_run_id(crew),
        crew=crew,
        message=message,
        model=model,
        **kwargs,
    )


def wait_ready(qtbot: Any, client: WorkerClient) -> None:
    """Wait for the worker to be ready (a signal wait, not polling)."""
    if not client.is_ready:
        with qtbot.waitSignal(client.worker_ready, timeout=READY_TIMEOUT_MS):
            pass


class Recorder:
    """Collects run events from a client, per run id."""

    def __init__(self, client: WorkerClient):
        self.client = client
        self.events: dict[str, list[RunEvent]] = defaultdict(list)
        self.all: list[RunEvent] = []  # every event, in arrival order
        self.died: list[str] = []
        client.event_received.connect(self._on_event)
        client.worker_died.connect(self._on_died)

    def _on_event(self, event: RunEvent) -> None:
        self.events[event.run_id].append(event)
        self.all.append(event)

    def _on_died(self, reason: str) -> None:
        self.died.append(reason)

    def close(self) -> None:
        self.client.event_received.disconnect(self._on_event)
        self.client.worker_died.disconnect(self._on_died)

    def terminal(self, run_id: str) -> RunEvent | None:
        for event in self.events.get(run_id, []):
            if is_terminal(event):
                return event
        return None

    def wait_until(self, qtbot: Any, predicate: Callable[[], bool], timeout_ms: int) -> None:
        """Block (processing Qt events) until ``predicate()`` holds after some event.

        Waits on the client's signal rather than polling: the recorder's slot runs
        first (it connected first), so the predicate already sees the new event.
        """
        if predicate():
            return
        with qtbot.waitSignal(
            self.client.event_received,
            timeout=timeout_ms,
            check_params_cb=lambda *_: predicate(),
        ):
            pass

    def wait_terminal(self, qtbot: Any, run_id: str, timeout_ms: int = 30_000) -> RunEvent:
        self.wait_until(qtbot, lambda: self.terminal(run_id) is not None, timeout_ms)
        event = self.terminal(run_id)
        assert event is not None
        return event

    def wait_for(self, qtbot: Any, run_id: str, kind: type, timeout_ms: int = 30_000) -> None:
        self.wait_until(
            qtbot,
            lambda: any(isinstance(e, kind) for e in self.events.get(run_id, [])),
            timeout_ms,
        )

    def live_text(self, run_id: str) -> str:
        """The bubble's text as a GUI would build it: append chunks, clear on reset."""
        text = ""
        for event in self.events.get(run_id, []):
            if isinstance(event, ResetEvent):
                text = ""
            elif isinstance(event, ChunkEvent):
                text += event.text
        return text

    def completed(self, run_id: str) -> CompletedEvent:
        event = self.terminal(run_id)
        assert isinstance(event, CompletedEvent), f"expected completed, got {event!r}"
        return event


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chatdesk-data")


@pytest.fixture(scope="session")
def shared_client(qapp: QApplication, data_dir: Path) -> Iterator[WorkerClient]:
    client = WorkerClient(data_dir=data_dir)
    client.start()
    yield client
    client.shutdown()


@pytest.fixture
def client(shared_client: WorkerClient, qtbot: Any) -> WorkerClient:
    """The shared worker client, ready (restarted if an earlier test killed it)."""
    if shared_client.state.value == "stopped":
        shared_client.start()
    wait_ready(qtbot, shared_client)
    return shared_client


@pytest.fixture
def recorder(client: WorkerClient) -> Iterator[Recorder]:
    rec = Recorder(client)
    yield rec
    rec.close()


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    with running_server() as server:
        yield server
