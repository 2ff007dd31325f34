"""The Run-details columns are as wide as their text, within limits, in a real window."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QStyleOptionViewItem, QToolTip
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.executions import LogEntry
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.trace.trace_columns import AGENT, EVENT, TASK, TOOL
from chatdesk.ui.trace.trace_view import TraceView

AGENT_ROLE = "Senior Research Analyst"
TASK_TEXT = (
    "Research what a good reply to this message must contain: the key facts, "
    "the important angles, and any caveats."
)
TOOL_NAME = "search_the_internet_with_serper"


def _window_with_run(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    services: Services,
    me: int,
    dock_width: int,
) -> tuple[MainWindow, TraceView]:
    thread = services.threads.create(me, "Traced")
    sent = services.messages.send(me, thread.id, "trace me")
    assert sent.execution is not None
    services.executions.start(me, sent.execution.id)
    services.executions.append_logs(
        me,
        sent.execution.id,
        [
            LogEntry("task_started", AGENT_ROLE, TASK_TEXT),
            LogEntry("tool_started", AGENT_ROLE, TASK_TEXT, {"tool_name": TOOL_NAME}),
            LogEntry("agent_completed", "Writer", "write"),
        ],
    )
    window = make_window()
    window.resize(1800, 800)
    window.details_action.trigger()
    window.sidebar.select_thread(thread.id)
    window.message_view.select_message(sent.message.id)
    window.resizeDocks([window.execution_panel], [dock_width], Qt.Orientation.Horizontal)
    view = window.execution_panel.steps
    qtbot.wait(20)  # widths follow at the next turn of the event loop
    return window, view


def _text_width(view: TraceView, text: str) -> int:
    return view.fontMetrics().horizontalAdvance(text)


def _tooltip(view: TraceView, row: int, column: int, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The tooltip the delegate shows for a step's cell (None: it hides tooltips)."""
    shown: list[str | None] = []
    monkeypatch.setattr(QToolTip, "showText", lambda *args: shown.append(args[1]))
    monkeypatch.setattr(QToolTip, "hideText", lambda: shown.append(None))
    run = view.model().index(0, 0)
    index = view.model().index(row, column, run)
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.visualRect(index)
    pos = option.rect.center()
    event = QHelpEvent(QEvent.Type.ToolTip, pos, view.viewport().mapToGlobal(pos))
    assert view.itemDelegate().helpEvent(event, view, option, index)
    assert len(shown) == 1
    return shown[0]


def test_columns_fit_their_text_and_long_text_is_elided_with_a_tooltip(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    me: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _window, view = _window_with_run(qtbot, make_window, ui_services, me, 1000)
    columns = view.columns
    assert view.columnWidth(AGENT) >= _text_width(view, AGENT_ROLE)  # not "Senior Re…"
    assert view.columnWidth(TOOL) == columns.cap(TOOL) < _text_width(view, TOOL_NAME)
    # The task description is long: capped (or given spare room), never all of it here.
    assert columns.cap(TASK) <= view.columnWidth(TASK) < _text_width(view, TASK_TEXT)
    # Every column is within the view: nothing is pushed off to the right.
    assert sum(view.columnWidth(c) for c in range(6)) <= view.viewport().width() + 1

    assert _tooltip(view, 0, TASK, monkeypatch) == TASK_TEXT
    assert _tooltip(view, 0, AGENT, monkeypatch) is None  # shown whole: no tooltip
    assert _tooltip(view, 2, TASK, monkeypatch) is None


def test_a_narrow_dock_shrinks_tool_then_task_before_the_agent(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    me: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _window, view = _window_with_run(qtbot, make_window, ui_services, me, 720)
    columns = view.columns
    assert view.columnWidth(TOOL) == columns.floor(TOOL)
    assert columns.floor(TASK) < view.columnWidth(TASK) < columns.cap(TASK)
    assert view.columnWidth(AGENT) >= _text_width(view, AGENT_ROLE)
    assert view.columnWidth(EVENT) >= _text_width(view, "Agent completed")
    assert _tooltip(view, 1, TOOL, monkeypatch) == TOOL_NAME


def test_a_column_resized_by_hand_keeps_its_width(
    qtbot: QtBot, make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    window, view = _window_with_run(qtbot, make_window, ui_services, me, 1000)
    view.header().resizeSection(AGENT, 60)
    window.resizeDocks([window.execution_panel], [700], Qt.Orientation.Horizontal)
    qtbot.wait(20)
    view.columns.fit()
    assert view.columnWidth(AGENT) == 60
