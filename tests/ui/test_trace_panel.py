"""The trace panel: a message's runs step by step, live, after Retry, offline, and safe."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPlainTextEdit
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir, database_url
from chatdesk.services import Services
from chatdesk.services.executions import LogEntry, Tokens
from chatdesk.store.migrate import open_store
from chatdesk.testing import ScriptedLLM
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.trace import trace_model
from chatdesk.ui.trace.trace_model import TraceModel, TraceRoles
from chatdesk.ui.trace.trace_panel import (
    NO_SELECTION,
    NO_STEPS_ENDED,
    NO_STEPS_PENDING,
    NO_STEPS_RUNNING,
    WRITTEN_BY_YOU,
    ExecutionPanel,
)
from chatdesk.ui.trace.trace_text import describe_step, step_cells
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role

MakeWindow = Callable[[], MainWindow]
RUN_TIMEOUT_MS = 30_000


# -- helpers -----------------------------------------------------------------------


def _steps(model: TraceModel) -> list[tuple[int, int, tuple[str, ...]]]:
    """Every loaded step row: (execution id, seq, the six cells as shown)."""
    rows = []
    for r in range(model.rowCount()):
        run = model.index(r, 0)
        for s in range(model.rowCount(run)):
            cells = tuple(model.index(s, c, run).data() for c in range(model.columnCount(run)))
            first = model.index(s, 0, run)
            rows.append((first.data(TraceRoles.ExecutionId), first.data(TraceRoles.Seq), cells))
    return rows


def _run_titles(model: TraceModel) -> list[str]:
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def _open_thread(window: MainWindow, thread_id: int, message_id: int) -> ExecutionPanel:
    if not window.execution_panel.isVisible():
        window.details_action.trigger()
    window.sidebar.select_thread(thread_id)
    window.message_view.select_message(message_id)
    return window.execution_panel


def _running_with_steps(services: Services, me: int, count: int) -> tuple[int, int, int]:
    """A thread with a running execution that logged ``count`` steps: (thread, message, run)."""
    thread = services.threads.create(me, "Traced")
    sent = services.messages.send(me, thread.id, "trace me")
    assert sent.execution is not None
    services.executions.start(me, sent.execution.id)
    entries = [
        LogEntry(
            "llm_completed" if i % 2 else "task_started",
            "Researcher",
            f"task {i // 10}",
            {"tokens": {"total_tokens": i}} if i % 2 else {},
        )
        for i in range(count)
    ]
    if entries:
        services.executions.append_logs(me, sent.execution.id, entries)
    return thread.id, sent.message.id, sent.execution.id


# -- the model ---------------------------------------------------------------------


def test_the_model_passes_the_model_tester_while_it_pages_and_grows(
    qtmodeltester: Any, ui_services: Services, me: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace_model, "PAGE_SIZE", 5)
    _thread, message_id, run = _running_with_steps(ui_services, me, 12)
    model = TraceModel(ui_services, me)
    model.set_runs(ui_services.executions.runs_for_message(me, message_id))
    parent = model.run_index(run)
    assert model.rowCount(parent) == 5 and model.canFetchMore(parent)
    assert "5+ steps" in parent.data()
    ui_services.bus.subscribe(_Forward(model))
    # A step arriving while older ones are still unread waits for its page.
    ui_services.executions.append_logs(me, run, [LogEntry("late")])
    assert model.rowCount(parent) == 5
    model.fetchMore(parent)
    assert model.rowCount(parent) == 10
    qtmodeltester.check(model)  # it reads the rest; stays attached to check what follows
    assert [seq for _e, seq, _c in _steps(model)] == list(range(13))
    assert "13 steps" in parent.data() and not model.canFetchMore(parent)
    # Once all are read, new steps are appended as they come: no re-read of the run.
    read: list[int] = []
    real_logs = ui_services.executions.logs

    def counting_logs(*args: Any, **kwargs: Any) -> Any:
        read.append(1)
        return real_logs(*args, **kwargs)

    monkeypatch.setattr(ui_services.executions, "logs", counting_logs)
    for i in range(30):
        ui_services.executions.append_logs(me, run, [LogEntry("tool_started", detail={"i": i})])
    assert read == []
    assert [seq for _e, seq, _c in _steps(model)] == list(range(43))
    qtmodeltester.check(model)


class _Forward:
    """A bus listener feeding log changes to a model (the bridge does this in the app)."""

    def __init__(self, model: TraceModel) -> None:
        self.model = model

    def on_change(self, change: Any) -> None:
        if change.entity.value == "execution_log":
            self.model.on_log_changed(change)


def test_cells_and_detail_are_plain_text_of_the_step(ui_services: Services, me: int) -> None:
    _thread, message_id, run = _running_with_steps(ui_services, me, 0)
    ui_services.executions.append_logs(
        me,
        run,
        [
            LogEntry(
                "tool_finished",
                "Research\nAnalyst",
                "Find flights",
                {
                    "tool_name": "web_search",
                    "tool_args": "{'q': 'LIS'}",
                    "output": "line one\nline two",
                    "tokens": {"prompt_tokens": 1200, "completion_tokens": 34},
                    "at": "2030-01-02T03:04:05.678000+00:00",
                },
            )
        ],
    )
    step = ui_services.executions.logs(me, run)[0]
    time, agent, task, event, tool, tokens = step_cells(step)
    assert time.endswith(".678") and len(time) == len("00:00:00.000")
    assert (agent, task, event, tool, tokens) == (
        "Research Analyst",
        "Find flights",
        "Tool finished",
        "web_search",
        "1,234",
    )
    text = describe_step(step)
    assert "Step 0  ·  Tool finished  (tool_finished)" in text
    assert "Tokens: 1,200 in  ·  34 out" in text
    assert "output: \n    line one\n    line two" in text
    assert "tool_args: {'q': 'LIS'}" in text
    assert message_id


# -- the panel in a window -----------------------------------------------------------


def test_empty_states(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Quiet")
    note = ui_services.messages.send(me, thread.id, "a note", triggers_execution=False)
    asked = ui_services.messages.send(me, thread.id, "a question")
    assert asked.execution is not None
    window = make_window()
    panel = window.execution_panel
    assert panel.empty_text() == NO_SELECTION
    _open_thread(window, thread.id, note.message.id)
    assert panel.empty_text() == WRITTEN_BY_YOU
    assert panel.value("execution") == "none (this message started no run)"
    window.message_view.select_message(asked.message.id)
    assert panel.empty_text() == NO_STEPS_PENDING  # no coordinator here: it stays pending
    ui_services.executions.start(me, asked.execution.id)
    assert panel.empty_text() == NO_STEPS_RUNNING
    ui_services.executions.finish(me, asked.execution.id, ExecutionStatus.FAILED, error="x")
    assert panel.empty_text() == NO_STEPS_ENDED
    assert panel.value("error") == "x"


def test_live_steps_follow_only_when_at_the_bottom(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, message_id, run = _running_with_steps(ui_services, me, 80)
    window = make_window()
    panel = _open_thread(window, thread_id, message_id)
    assert panel.empty_text() is None
    bar = panel.steps.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    panel.steps.scrollToBottom()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    ui_services.executions.append_logs(me, run, [LogEntry("llm_started", "Researcher", "t")] * 5)
    assert panel.model.rowCount(panel.model.run_index(run)) == 85
    last = panel.model.index(84, 0, panel.model.run_index(run))
    viewport = panel.steps.viewport()
    qtbot.waitUntil(lambda: viewport.rect().contains(panel.steps.visualRect(last)))
    assert panel.steps.at_bottom()
    bar.setValue(bar.maximum() // 2)
    reading = bar.value()
    ui_services.executions.append_logs(me, run, [LogEntry("llm_completed")] * 5)
    qtbot.wait(50)
    assert panel.model.rowCount(panel.model.run_index(run)) == 90
    assert bar.value() == reading  # someone reading older steps is not yanked away


def test_copy_selected_steps_as_text(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, message_id, run = _running_with_steps(ui_services, me, 4)
    window = make_window()
    panel = _open_thread(window, thread_id, message_id)
    model, view = panel.model, panel.steps
    parent = model.run_index(run)
    selection = view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    selection.select(model.index(2, 0, parent), flags)
    selection.select(model.index(1, 0, parent), flags)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    steps = ui_services.executions.logs(me, run)
    expected = "\n".join("\t".join(step_cells(steps[i])) for i in (1, 2))
    assert QGuiApplication.clipboard().text() == expected
    assert "\tResearcher\ttask 0\tLLM completed\t\t1" in expected
    view.setCurrentIndex(model.index(3, 0, parent))
    assert panel.detail.toPlainText() == describe_step(steps[3])


def test_hostile_step_payloads_are_shown_as_text(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    img = f'<img src="http://127.0.0.1:{port}/x.png">'
    hostile = f"<b>bold</b> {img} <script>alert(1)</script>"
    thread_id, message_id, run = _running_with_steps(ui_services, me, 0)
    ui_services.executions.append_logs(
        me,
        run,
        [LogEntry("tool_error", f"<i>{img}</i>", hostile, {"tool_name": img, "error": hostile})],
    )
    ui_services.executions.finish(me, run, ExecutionStatus.FAILED, error=hostile)
    window = make_window()
    panel = _open_thread(window, thread_id, message_id)
    model = panel.model
    step = model.index(0, 0, model.run_index(run))
    cells = [model.index(0, c, model.run_index(run)).data() for c in range(6)]
    assert cells[1:5] == [f"<i>{img}</i>", hostile, "Tool error", img]
    panel.steps.setCurrentIndex(step)
    detail = panel.detail.toPlainText()
    assert f"error: {hostile}" in detail and f"Agent:  <i>{img}</i>" in detail
    assert isinstance(panel.detail, QPlainTextEdit)  # no rich text path at all
    assert panel.value("error") == hostile
    qtbot.wait(200)  # give anything that would fetch a resource the chance to try
    window.grab()  # paint everything once
    with pytest.raises(BlockingIOError):
        conn, _ = listener.accept()
        conn.close()


# -- real runs through the real worker -------------------------------------------------


def _send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.composer.edit.setFocus()
    qtbot.keyClicks(window.composer.edit, text)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)


def _user_message(app: ChatdeskApp) -> Any:
    thread_id = app.window.current_thread_id
    assert thread_id is not None
    page = app.services.messages.list(app.user_id, thread_id)
    return next(m for m in page.messages if m.role is Role.USER)


def test_a_real_run_shows_its_steps_live_and_in_order(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    window.details_action.trigger()
    text = "Lisbon: trams, tiles and pastel de nata, slowly."
    scripted_llm.reply({"text": text, "chunk_size": 3, "delay_s": 0.03})
    _send(qtbot, window, "Plan a weekend in Lisbon")
    message = _user_message(chatdesk_app)
    assert message.execution_id is not None
    window.message_view.select_message(message.id)
    panel = window.execution_panel
    seen_live: list[tuple[int, bool]] = []

    def on_inserted(parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            active = chatdesk_app.coordinator.is_active(message.execution_id)
            seen_live.extend(
                (panel.model.index(r, 0, parent).data(TraceRoles.Seq), active)
                for r in range(first, last + 1)
            )

    panel.model.rowsInserted.connect(on_inserted)
    run = panel.model.run_index(message.execution_id)
    qtbot.waitUntil(
        lambda: (
            chatdesk_app.services.messages.get(chatdesk_app.user_id, message.id).status
            is MessageStatus.COMPLETED
        ),
        timeout=RUN_TIMEOUT_MS,
    )
    assert any(active for _seq, active in seen_live), "steps appeared while the run went on"
    stored = chatdesk_app.services.executions.logs(chatdesk_app.user_id, message.execution_id)
    shown = _steps(panel.model)
    assert [seq for _e, seq, _c in shown] == [s.seq for s in stored] == list(range(len(stored)))
    assert [cells for _e, _s, cells in shown] == [step_cells(s) for s in stored]
    by_event = {s.event: cells for s, (_e, _q, cells) in zip(stored, shown, strict=True)}
    for event in ("task_started", "agent_started", "llm_completed"):
        agent, task = by_event[event][1], by_event[event][2]
        assert agent and task, f"{event} names its agent and task"
    assert by_event["llm_completed"][5]  # token counts shown
    assert "completed" in run.data() and panel.value("execution_status") == "completed"


def test_retry_keeps_both_runs_and_a_fresh_window_shows_the_same_offline(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    user = chatdesk_app.user_id
    scripted_llm.reply({"error": "The model server answered 500."}, "Second time lucky.")
    _send(qtbot, window, "Try this")
    message = _user_message(chatdesk_app)
    first_run = message.execution_id
    panel = _open_thread(window, window.current_thread_id or 0, message.id)

    def status() -> MessageStatus:
        return chatdesk_app.services.messages.get(user, message.id).status

    qtbot.waitUntil(lambda: status() is MessageStatus.FAILED, timeout=RUN_TIMEOUT_MS)
    window.on_retry(message.id)
    qtbot.waitUntil(lambda: status() is MessageStatus.COMPLETED, timeout=RUN_TIMEOUT_MS)
    second_run = chatdesk_app.services.messages.get(user, message.id).execution_id
    assert panel.model.run_ids() == [first_run, second_run]
    titles = _run_titles(panel.model)
    assert "failed" in titles[0] and "completed" in titles[1]
    shown = _steps(panel.model)
    assert {e for e, _s, _c in shown} == {first_run, second_run}
    assert panel.value("execution") == f"#{second_run}  ·  run 2 of 2"
    # The old, failed reply leads to the same two runs.
    replies = [
        m
        for m in chatdesk_app.services.messages.list(user, message.thread_id).messages
        if m.role is Role.ASSISTANT
    ]
    window.message_view.select_message(replies[0].id)
    assert panel.model.run_ids() == [first_run, second_run]
    window.message_view.select_message(message.id)

    # Offline: a second window on its own connection, no coordinator or worker behind it.
    store = open_store(database_url(data_dir()))
    try:
        fresh = MainWindow(_services(store), user)
        qtbot.addWidget(fresh)
        fresh.show()
        offline = _open_thread(fresh, message.thread_id, message.id)
        while any(
            offline.model.canFetchMore(offline.model.index(r, 0))
            for r in range(offline.model.rowCount())
        ):
            for r in range(offline.model.rowCount()):
                offline.model.fetchMore(offline.model.index(r, 0))
        assert _steps(offline.model) == shown
        assert _run_titles(offline.model) == titles
        fresh.close()
    finally:
        store.close()


def _services(store: Any) -> Services:
    return Services(store)


def test_tokens_are_summed_in_the_fields(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, message_id, run = _running_with_steps(ui_services, me, 2)
    ui_services.executions.finish(
        me, run, ExecutionStatus.COMPLETED, text="ok", tokens=Tokens(1200, 34, 1234)
    )
    window = make_window()
    panel = _open_thread(window, thread_id, message_id)
    assert panel.value("tokens") == "1,234 (1,200 in, 34 out)"
    assert "1,234 tokens" in _run_titles(panel.model)[0]
