"""End to end, as a tester drives chatdesk: the real window, the real coordinator, the
real worker process running real CrewAI, with only the model scripted."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QListView, QPlainTextEdit, QPushButton
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir
from chatdesk.engine.client import WorkerClient
from chatdesk.services.events import ChangeKind, ChangeRecorder, Entity
from chatdesk.services.executions import INTERRUPTED_ERROR
from chatdesk.store.migrate import open_store
from chatdesk.testing import ScriptedLLM
from chatdesk.vocabulary import ExecutionStatus, MessageStatus

RUN_TIMEOUT_MS = 30_000
LONG_TEXT = "The quick brown fox jumps over the lazy dog. " * 12


def _rows(window: Any) -> list[dict[str, Any]]:
    view = window.findChild(QListView, "messageList")
    model: QAbstractItemModel = view.model()
    names = {bytes(name.data()).decode(): role for role, name in model.roleNames().items()}
    return [
        {
            name: model.data(model.index(row, 0), names[name])
            for name in ("messageId", "role", "content", "status", "versionIndex", "versionCount")
        }
        for row in range(model.rowCount())
    ]


def _send(qtbot: QtBot, window: Any, text: str) -> None:
    composer = window.findChild(QPlainTextEdit, "composer")
    composer.setFocus()
    qtbot.keyClicks(composer, text)
    qtbot.keyClick(composer, Qt.Key.Key_Return)


def _last_reply(window: Any) -> dict[str, Any] | None:
    replies = [row for row in _rows(window) if row["role"] == "assistant"]
    return replies[-1] if replies else None


def _reply_is(window: Any, status: str) -> bool:
    reply = _last_reply(window)
    return reply is not None and reply["status"] == status


def test_a_message_gets_a_streamed_reply_from_a_real_crew(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    text = "Hello from the crew; this answer streams in small pieces."
    scripted_llm.reply({"text": text, "chunk_size": 6, "delay_s": 0.01})
    recorder = ChangeRecorder()
    chatdesk_app.services.bus.subscribe(recorder)
    streamed: list[str] = []
    chatdesk_app.coordinator.reply_text_changed.connect(lambda _id, t: streamed.append(t))
    _send(qtbot, window, "Hi there")
    qtbot.waitUntil(lambda: _reply_is(window, "completed"), timeout=RUN_TIMEOUT_MS)
    rows = _rows(window)
    assert [(r["role"], r["content"], r["status"]) for r in rows] == [
        ("user", "Hi there", "completed"),
        ("assistant", text, "completed"),
    ]
    assert streamed[-1] == text
    assert all(text.startswith(part) for part in streamed)  # the wrapper never shows
    user_statuses = [
        c.fields["status"]
        for c in recorder.changes
        if c.kind is ChangeKind.STATUS_CHANGED
        and c.entity is Entity.MESSAGE
        and c.id == rows[0]["messageId"]
    ]
    assert user_statuses == [MessageStatus.PROCESSING, MessageStatus.COMPLETED]
    execution_statuses = [
        c.fields["status"]
        for c in recorder.changes
        if c.kind is ChangeKind.STATUS_CHANGED and c.entity is Entity.EXECUTION
    ]
    assert execution_statuses == [ExecutionStatus.RUNNING, ExecutionStatus.COMPLETED]
    user = chatdesk_app.user_id
    message = chatdesk_app.services.messages.get(user, rows[0]["messageId"])
    assert message.execution_id is not None
    logs = chatdesk_app.services.executions.logs(user, message.execution_id)
    events = [log.event for log in logs]
    assert [log.seq for log in logs] == list(range(len(logs)))
    assert events[0] == "crew_started" and events[-1] == "crew_completed"
    assert {"task_started", "agent_started", "llm_started", "llm_completed"} <= set(events)
    execution = chatdesk_app.services.executions.get(user, message.execution_id)
    assert execution.result == text and execution.finished_at is not None


def test_stop_ends_a_run_within_two_seconds_keeping_its_text(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    scripted_llm.reply({"text": LONG_TEXT, "chunk_size": 3, "delay_s": 0.05})
    _send(qtbot, window, "Tell me a long story")
    qtbot.waitUntil(
        lambda: (_last_reply(window) or {}).get("content", "").startswith("The quick"),
        timeout=RUN_TIMEOUT_MS,
    )
    stop = window.findChild(QPushButton, "stopButton")
    assert stop.isVisible() and stop.isEnabled()
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _reply_is(window, "cancelled"), timeout=2000)
    partial = (_last_reply(window) or {})["content"]
    assert partial and LONG_TEXT.startswith(partial) and len(partial) < len(LONG_TEXT)
    qtbot.wait(600)  # nothing more arrives for a stopped run
    assert (_last_reply(window) or {})["content"] == partial
    reply_id = (_last_reply(window) or {})["messageId"]
    stored = chatdesk_app.services.messages.get(chatdesk_app.user_id, reply_id)
    assert (stored.content, stored.status) == (partial, MessageStatus.CANCELLED)


def test_a_chat_opened_again_mid_reply_shows_the_reply_as_far_as_it_has_come(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    scripted_llm.reply({"text": LONG_TEXT, "chunk_size": 3, "delay_s": 0.03})
    other = chatdesk_app.services.threads.create(chatdesk_app.user_id, "Elsewhere")
    _send(qtbot, window, "Tell me a long story")
    qtbot.waitUntil(
        lambda: (_last_reply(window) or {}).get("content", "").startswith("The"),
        timeout=RUN_TIMEOUT_MS,
    )
    thread_id = window.current_thread_id
    assert thread_id is not None
    window.sidebar.select_thread(other.id)
    assert _rows(window) == []
    window.sidebar.select_thread(thread_id)
    reply = _last_reply(window)
    assert reply is not None and reply["status"] == "processing"
    live = chatdesk_app.coordinator.live_text(reply["messageId"])
    assert live and reply["content"] == live  # not the database's copy, up to 1 s behind
    assert _reply_is(window, "processing")
    qtbot.waitUntil(lambda: _reply_is(window, "completed"), timeout=RUN_TIMEOUT_MS)
    assert (_last_reply(window) or {})["content"] == LONG_TEXT.strip()


def test_a_failed_run_offers_retry_and_retry_works(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    scripted_llm.reply({"error": "The model server answered 500."}, "Second time lucky.")
    _send(qtbot, window, "Try this")
    qtbot.waitUntil(lambda: _reply_is(window, "failed"), timeout=RUN_TIMEOUT_MS)
    user_row = _rows(window)[0]
    assert user_row["status"] == "failed"
    window.on_retry(user_row["messageId"])
    qtbot.waitUntil(lambda: _reply_is(window, "completed"), timeout=RUN_TIMEOUT_MS)
    rows = _rows(window)
    assert rows[-1]["content"] == "Second time lucky."
    # the retried reply is the second version of the failed one, which stays
    assert [(r["status"], r["versionIndex"], r["versionCount"]) for r in rows[1:]] == [
        ("completed", 2, 2)
    ]
    executions = chatdesk_app.services.executions
    failed = [
        executions.get(chatdesk_app.user_id, eid)
        for eid in range(1, 3)  # the old run is kept for the trace
    ]
    assert [e.status for e in failed] == [ExecutionStatus.FAILED, ExecutionStatus.COMPLETED]
    assert failed[0].error and "500" in failed[0].error


def test_two_threads_run_at_the_same_time(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    services, user = chatdesk_app.services, chatdesk_app.user_id
    scripted_llm.reply(
        {"text": "First thread answer " * 5, "chunk_size": 4, "delay_s": 0.03},
        {"text": "Second thread answer " * 5, "chunk_size": 4, "delay_s": 0.03},
    )
    running: set[int] = set()
    overlap: list[int] = []

    def started(execution_id: int) -> None:
        running.add(execution_id)
        overlap.append(len(running))

    chatdesk_app.coordinator.run_started.connect(started)
    chatdesk_app.coordinator.run_finished.connect(lambda eid, _s: running.discard(eid))
    a = services.threads.create(user, "A")
    b = services.threads.create(user, "B")
    services.messages.send(user, a.id, "go A")
    services.messages.send(user, b.id, "go B")

    def both_done() -> bool:
        return all(
            services.messages.list(user, t.id).messages[-1].status is MessageStatus.COMPLETED
            for t in (a, b)
            if len(services.messages.list(user, t.id).messages) == 2
        ) and all(len(services.messages.list(user, t.id).messages) == 2 for t in (a, b))

    qtbot.waitUntil(both_done, timeout=RUN_TIMEOUT_MS)
    assert max(overlap) == 2
    assert services.messages.list(user, b.id).messages[-1].content.startswith("Second thread")


def test_runs_interrupted_by_a_crash_are_marked_at_start_up(
    qtbot: QtBot,
    chatdesk_app: ChatdeskApp,
    chatdesk_worker: WorkerClient,
    scripted_llm: ScriptedLLM,
) -> None:
    services, user = chatdesk_app.services, chatdesk_app.user_id
    thread = services.threads.create(user, "crashed")
    chatdesk_app.coordinator.shutdown()  # from here on, nothing drives runs: a "crash"
    sent = services.messages.send(user, thread.id, "will be interrupted")
    assert sent.execution is not None
    run = services.executions.start(user, sent.execution.id)
    services.executions.save_text(user, run.reply.id, "half of an ans")
    url = chatdesk_app.store.url
    chatdesk_app.close()

    directory = data_dir()
    again = ChatdeskApp(
        open_store(url), directory, resolve_model=scripted_llm.resolve, worker=chatdesk_worker
    )
    qtbot.addWidget(again.window)
    try:
        assert again.recovered == 1
        again.show()
        again.window.on_thread_selected(thread.id)
        rows = _rows(again.window)
        assert [(r["role"], r["content"], r["status"]) for r in rows] == [
            ("user", "will be interrupted", "failed"),
            ("assistant", "half of an ans", "failed"),
        ]
        reply = again.services.messages.get(user, run.reply.id)
        assert reply.metadata["error"] == INTERRUPTED_ERROR
    finally:
        again.close()
