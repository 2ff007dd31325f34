"""The client under qasync: an asyncio task can await a run's events."""

from __future__ import annotations

import asyncio
from typing import Any

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import CancelledEvent, ChunkEvent, CompletedEvent, RunEvent
from tests.engine.conftest import Recorder, run_request, scripted


def test_run_stream_yields_until_completed(
    client: WorkerClient, qtbot: Any, chatdesk_loop: asyncio.AbstractEventLoop
) -> None:
    received: list[RunEvent] = []

    async def consume() -> None:
        async for event in client.run_stream(run_request(scripted("Async hello"))):
            received.append(event)

    task = chatdesk_loop.create_task(consume())
    qtbot.waitUntil(task.done, timeout=30_000)
    task.result()
    assert isinstance(received[-1], CompletedEvent)
    assert received[-1].text == "Async hello"
    assert [e.seq for e in received] == list(range(1, len(received) + 1))


def test_cancelling_the_awaiting_task_cancels_the_run(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    chatdesk_loop: asyncio.AbstractEventLoop,
) -> None:
    request = run_request(scripted({"text": "slow " * 200, "chunk_size": 5, "delay_s": 0.05}))

    async def consume() -> None:
        async for _event in client.run_stream(request):
            pass

    task = chatdesk_loop.create_task(consume())
    recorder.wait_for(qtbot, request.run_id, ChunkEvent)
    task.cancel()
    terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=2000)
    assert isinstance(terminal, CancelledEvent)
    assert task.cancelled()
