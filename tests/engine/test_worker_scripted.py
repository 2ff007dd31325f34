"""Real CrewAI in the real worker process, with only the model scripted."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import (
    CancelledEvent,
    ChunkEvent,
    ErrorKind,
    FailedEvent,
    ResetEvent,
    StatusEvent,
    StepEvent,
)
from tests.engine.conftest import (
    READY_TIMEOUT_MS,
    Recorder,
    run_request,
    scripted,
    wait_ready,
)

SLOW = {"text": "word " * 200, "chunk_size": 5, "delay_s": 0.05}  # ~10 s of streaming


def test_events_arrive_in_order_and_stream_equals_reply(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    request = run_request(scripted("Hello! {braces} stay \u00e9"), message="Say hi {please}")
    started = time.monotonic()
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id)
    elapsed = time.monotonic() - started
    events = recorder.events[request.run_id]
    completed = recorder.completed(request.run_id)

    assert completed.text == "Hello! {braces} stay \u00e9"
    assert completed.model == "scripted"
    assert completed.total_tokens > 0
    assert completed.total_tokens == completed.prompt_tokens + completed.completion_tokens
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[0], StatusEvent) and events[0].crew == "assistant"
    assert events[-1] is completed
    # the live text, built as a bubble would, is exactly the reply: no "Thought:" wrapper
    assert recorder.live_text(request.run_id) == completed.text
    chunks = [e for e in events if isinstance(e, ChunkEvent)]
    assert len(chunks) > 1
    first_chunk = events.index(chunks[0])
    assert any(isinstance(e, ResetEvent) for e in events[:first_chunk])

    steps = [e.event for e in events if isinstance(e, StepEvent)]
    expected = [
        "crew_started",
        "task_started",
        "agent_started",
        "llm_started",
        "llm_completed",
        "agent_completed",
        "task_completed",
        "crew_completed",
    ]
    assert steps == expected
    by_name = {e.event: e for e in events if isinstance(e, StepEvent)}
    # CrewAI hands 'llm_started' to a thread pool but streams chunks on the calling thread:
    # on a busy machine the step can land after the first chunk (the runner's reset still
    # comes first, as asserted above); the call's own steps and text stay in order.
    assert by_name["llm_started"].seq < by_name["llm_completed"].seq
    assert chunks[0].seq < by_name["llm_completed"].seq
    assert by_name["task_started"].agent_role == "Assistant"
    assert by_name["task_started"].task_name == "answer"
    assert by_name["llm_completed"].tokens and by_name["llm_completed"].tokens["total_tokens"] > 0
    assert by_name["crew_completed"].detail["output"] == completed.text
    print(f"\nscripted reply, submit -> completed: {elapsed * 1000:.0f} ms")


def test_history_and_system_prompt_reach_the_model(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    from chatdesk.engine.protocol import ChatMessage

    history = (
        ChatMessage("user", "old " + "x" * 400),
        ChatMessage("user", "What is the capital of France?"),
        ChatMessage("assistant", "Paris."),
    )
    request = run_request(
        scripted({"echo": True}),
        message="And of Italy?",
        history=history,
        system_prompt="You are a pirate.",
        history_budget_chars=200,
    )
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id)
    prompt = recorder.completed(request.run_id).text
    assert "You are a pirate." in prompt
    assert "And of Italy?" in prompt
    assert "User: What is the capital of France?\n\nAssistant: Paris." in prompt
    assert "x" * 200 not in prompt and "old " not in prompt  # trimmed, keeping the end


def test_research_writer_streams_only_the_writers_answer(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    request = run_request(
        scripted("- fact one\n- fact two", "The final, written answer."), crew="research-writer"
    )
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id)
    completed = recorder.completed(request.run_id)
    assert completed.text == "The final, written answer."
    assert recorder.live_text(request.run_id) == completed.text
    chunks = "".join(e.text for e in recorder.events[request.run_id] if isinstance(e, ChunkEvent))
    assert "fact one" not in chunks
    roles = [
        e.agent_role
        for e in recorder.events[request.run_id]
        if isinstance(e, StepEvent) and e.event == "task_started"
    ]
    assert roles == ["Researcher", "Writer"]


def test_two_runs_at_once_stay_apart(client: WorkerClient, recorder: Recorder, qtbot: Any) -> None:
    a = run_request(scripted({"text": "Alpha " * 40, "chunk_size": 6, "delay_s": 0.02}))
    b = run_request(scripted({"text": "Beta " * 40, "chunk_size": 5, "delay_s": 0.02}))
    client.submit(a)
    client.submit(b)
    recorder.wait_terminal(qtbot, a.run_id)
    recorder.wait_terminal(qtbot, b.run_id)
    assert recorder.completed(a.run_id).text == ("Alpha " * 40).strip()
    assert recorder.completed(b.run_id).text == ("Beta " * 40).strip()
    assert recorder.live_text(a.run_id).strip() == ("Alpha " * 40).strip()
    assert recorder.live_text(b.run_id).strip() == ("Beta " * 40).strip()
    # they really overlapped: each streamed before the other completed
    order = recorder.all
    first_chunk = {
        run.run_id: next(
            i for i, e in enumerate(order) if e.run_id == run.run_id and isinstance(e, ChunkEvent)
        )
        for run in (a, b)
    }
    done_at = {run.run_id: order.index(recorder.completed(run.run_id)) for run in (a, b)}
    assert first_chunk[b.run_id] < done_at[a.run_id]
    assert first_chunk[a.run_id] < done_at[b.run_id]
    for run in (a, b):
        events = recorder.events[run.run_id]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_cancel_mid_stream(client: WorkerClient, recorder: Recorder, qtbot: Any) -> None:
    pid = client.pid
    request = run_request(scripted(SLOW))
    client.submit(request)
    recorder.wait_for(qtbot, request.run_id, ChunkEvent)
    started = time.monotonic()
    client.cancel(request.run_id)
    terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=2000)
    assert isinstance(terminal, CancelledEvent)
    assert time.monotonic() - started < 2.0
    # the worker is fine afterwards, and by the time a later run completed, nothing
    # more has arrived for the cancelled one
    after = run_request(scripted("Still here"))
    client.submit(after)
    recorder.wait_terminal(qtbot, after.run_id)
    assert recorder.completed(after.run_id).text == "Still here"
    assert recorder.events[request.run_id][-1] is terminal
    assert client.pid == pid  # the worker stopped the run itself, nobody was killed


def test_cancel_of_a_queued_run_is_immediate(qtbot: Any, qapp: Any, tmp_path: Path) -> None:
    client = WorkerClient(data_dir=tmp_path)
    recorder = Recorder(client)
    try:
        request = run_request(scripted("never"))
        client.submit(request)  # starts the worker; the run waits for ready
        assert request.run_id in client.active_runs()
        client.cancel(request.run_id)
        terminal = recorder.terminal(request.run_id)
        assert isinstance(terminal, CancelledEvent)
        assert client.active_runs() == []
    finally:
        recorder.close()
        client.shutdown()


def test_runs_submitted_before_ready_are_queued(qtbot: Any, qapp: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    client = WorkerClient(data_dir=tmp_path / "data", extra_env={"HOME": str(home)})
    recorder = Recorder(client)
    try:
        first, second = run_request(scripted("one")), run_request(scripted("two"))
        with qtbot.waitSignal(client.worker_ready, timeout=READY_TIMEOUT_MS) as ready:
            client.submit(first)
            client.submit(second)
            assert not client.is_ready
        print(
            f"\nworker ready after {client.last_startup_s:.2f} s "
            f"(worker's own count {ready.args[0].startup_s:.2f} s)"
        )
        recorder.wait_terminal(qtbot, first.run_id)
        recorder.wait_terminal(qtbot, second.run_id)
        assert recorder.completed(first.run_id).text == "one"
        assert recorder.completed(second.run_id).text == "two"
        # CrewAI kept its files in the data dir, not in $HOME or the cwd
        storage = tmp_path / "data" / "crewai"
        assert (storage / ".crewai_user.json").is_file()
        assert '"trace_consent": false' in (storage / ".crewai_user.json").read_text()
        assert list(home.iterdir()) == []
    finally:
        recorder.close()
        client.shutdown()


def test_killed_worker_fails_its_runs_and_a_fresh_one_takes_over(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    old_pid = client.pid
    assert old_pid is not None
    doomed = run_request(scripted(SLOW))
    client.submit(doomed)
    recorder.wait_for(qtbot, doomed.run_id, ChunkEvent)
    with qtbot.waitSignal(client.worker_died, timeout=5000):
        os.kill(old_pid, signal.SIGKILL)
    terminal = recorder.terminal(doomed.run_id)
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.WORKER_DIED.value
    assert "The worker stopped unexpectedly" in terminal.error
    events = recorder.events[doomed.run_id]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))

    after = run_request(scripted("Back again"))
    client.submit(after)  # queued until the new worker is ready
    recorder.wait_terminal(qtbot, after.run_id, timeout_ms=READY_TIMEOUT_MS)
    assert recorder.completed(after.run_id).text == "Back again"
    assert client.pid not in (None, old_pid)


def test_broken_crew_fails_clearly_and_other_crews_still_run(
    client: WorkerClient, recorder: Recorder, qtbot: Any, data_dir: Path
) -> None:
    folder = data_dir / "crews" / "broken-crew"
    folder.mkdir(parents=True)
    (folder / "agents.yaml").write_text("a:\n  role: R\n  goal: [oops\n  backstory: B\n")
    (folder / "tasks.yaml").write_text("t:\n  description: d\n  expected_output: e\n")
    try:
        broken = run_request(scripted("unused"), crew="broken-crew")
        good = run_request(scripted("Fine"))
        unknown = run_request(scripted("unused"), crew="no-such-crew")
        for request in (broken, good, unknown):
            client.submit(request)
        for request in (broken, good, unknown):
            recorder.wait_terminal(qtbot, request.run_id)
        failure = recorder.terminal(broken.run_id)
        assert isinstance(failure, FailedEvent)
        assert failure.kind == ErrorKind.CREW_CONFIG.value
        assert f"{folder / 'agents.yaml'}:3:" in failure.error or ":4:" in failure.error
        assert recorder.completed(good.run_id).text == "Fine"
        missing = recorder.terminal(unknown.run_id)
        assert isinstance(missing, FailedEvent) and "unknown crew 'no-such-crew'" in missing.error
    finally:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


@pytest.mark.parametrize(
    ("item", "kind", "words"),
    [
        ({"text": "", "error": "server_error"}, ErrorKind.SERVER_ERROR, "internal error"),
        ({"text": "Partial", "error": "stream_broken"}, ErrorKind.STREAM_BROKEN, "dropped"),
        ({"text": ""}, ErrorKind.EMPTY_REPLY, "empty reply"),
        ({"text": "x", "error": "the tool exploded"}, ErrorKind.CREW_ERROR, "the tool exploded"),
    ],
)
def test_scripted_failures_are_reported(
    client: WorkerClient, recorder: Recorder, qtbot: Any, item: Any, kind: ErrorKind, words: str
) -> None:
    request = run_request(scripted(item))
    client.submit(request)
    terminal = recorder.wait_terminal(qtbot, request.run_id)
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == kind.value
    assert words in terminal.error


def test_deadline_stops_a_run(client: WorkerClient, recorder: Recorder, qtbot: Any) -> None:
    request = run_request(scripted(SLOW), deadline_s=1.0)
    started = time.monotonic()
    client.submit(request)
    terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=5000)
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.DEADLINE.value
    assert "1 s limit" in terminal.error
    assert time.monotonic() - started < 3.0


def test_bad_script_is_a_model_config_error(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    request = run_request(scripted({"text": "x", "chunk_size": 0}))
    client.submit(request)
    terminal = recorder.wait_terminal(qtbot, request.run_id)
    assert isinstance(terminal, FailedEvent)
    assert terminal.kind == ErrorKind.MODEL_CONFIG.value
    assert "chunk_size" in terminal.error


def test_a_hung_worker_is_replaced(qtbot: Any, qapp: Any, tmp_path: Path) -> None:
    client = WorkerClient(data_dir=tmp_path, ping_interval_ms=200, ping_timeout_ms=1500)
    recorder = Recorder(client)
    try:
        client.start()
        wait_ready(qtbot, client)
        pid = client.pid
        assert pid is not None
        request = run_request(scripted(SLOW))
        client.submit(request)
        recorder.wait_for(qtbot, request.run_id, ChunkEvent)
        os.kill(pid, signal.SIGSTOP)  # alive but silent: a hang
        terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=5000)
        assert isinstance(terminal, FailedEvent)
        assert terminal.kind == ErrorKind.WORKER_DIED.value
        assert "stopped responding" in terminal.error
        assert recorder.died and "stopped responding" in recorder.died[0]
        # cancel while the next worker hangs too: Stop still ends within 2 s
        wait_ready(qtbot, client)
        stuck = run_request(scripted(SLOW))
        client.submit(stuck)
        recorder.wait_for(qtbot, stuck.run_id, ChunkEvent)
        new_pid = client.pid
        assert new_pid not in (None, pid)
        os.kill(new_pid, signal.SIGSTOP)
        started = time.monotonic()
        client.cancel(stuck.run_id)
        terminal = recorder.wait_terminal(qtbot, stuck.run_id, timeout_ms=2000)
        assert isinstance(terminal, CancelledEvent)
        assert time.monotonic() - started < 2.0
    finally:
        recorder.close()
        client.shutdown()


def test_a_worker_that_cannot_start_fails_queued_runs(
    qtbot: Any, qapp: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ImportError: no crewai here' >&2\nexit 3\n")
    broken.chmod(0o755)
    client = WorkerClient(data_dir=tmp_path, python=str(broken), max_start_failures=2)
    recorder = Recorder(client)
    try:
        request = run_request(scripted("never"))
        client.submit(request)
        terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=10_000)
        assert isinstance(terminal, FailedEvent)
        assert terminal.kind == ErrorKind.WORKER_DIED.value
        assert "could not start" in terminal.error
        assert "exit code 3" in terminal.error
        assert "no crewai here" in terminal.error
        assert len(recorder.died) == 2  # tried twice, then gave up
        assert client.state.value == "stopped"
    finally:
        recorder.close()
        client.shutdown()


def test_restart_worker_fails_runs_and_comes_back(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    old_pid = client.pid
    request = run_request(scripted(SLOW))
    client.submit(request)
    recorder.wait_for(qtbot, request.run_id, ChunkEvent)
    client.restart_worker("Restarted from the menu.")
    terminal = recorder.terminal(request.run_id)
    assert isinstance(terminal, FailedEvent)
    assert terminal.error.startswith("Restarted from the menu.")
    wait_ready(qtbot, client)
    assert client.pid not in (None, old_pid)
