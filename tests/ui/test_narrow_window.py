"""Small windows: the chat fits at 1000×650 with Run details beside it, narrower windows
are allowed, and opening Run details never makes the window grow off the screen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.trace.trace_panel import MIN_WIDTH as TRACE_MIN_WIDTH

MakeWindow = Callable[[], MainWindow]


@pytest.fixture
def window(qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int) -> MainWindow:
    thread = ui_services.threads.create(me, "A chat with a long enough title to need room")
    shown = make_window()
    shown.sidebar.select_thread(thread.id)
    return shown


def test_the_window_may_be_narrower_than_before(window: MainWindow) -> None:
    assert window.minimumSizeHint().width() <= 640  # was 828: the header's captions


def test_run_details_dock_beside_the_chat_at_1000_by_650(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(1000, 650)
    qtbot.waitUntil(lambda: window.width() == 1000)
    window.details_action.trigger()
    dock = window.execution_panel
    qtbot.waitUntil(lambda: dock.isVisible() and dock.width() >= TRACE_MIN_WIDTH)
    qtbot.wait(50)
    assert window.width() == 1000  # the window did not grow
    assert not dock.isFloating()
    assert window.chat_pane.width() >= window.chat_pane.minimumSizeHint().width()
    assert window.chat_pane.width() >= 420  # the chat keeps a readable width


def test_run_details_float_over_a_window_too_small_to_share(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.resize(760, 600)
    qtbot.waitUntil(lambda: window.width() == 760)
    window.details_action.trigger()
    dock = window.execution_panel
    qtbot.waitUntil(dock.isVisible)
    qtbot.wait(50)
    assert window.width() == 760
    assert dock.isFloating()
    window.details_action.trigger()  # closed and opened again: still floating, still 760
    window.details_action.trigger()
    qtbot.wait(50)
    assert window.width() == 760 and dock.isVisible()


def test_the_header_drops_its_captions_before_clipping(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(1400, 800)
    qtbot.waitUntil(lambda: not window.header.compact)
    assert window.header.prompt_button.text() == "System prompt"
    window.resize(700, 600)
    qtbot.waitUntil(lambda: window.header.compact)
    qtbot.wait(50)  # the header lays itself out again without its captions
    assert window.header.prompt_button.text() == "Prompt"
    header = window.header
    assert header.crew_combo.width() >= header.crew_combo.minimumSizeHint().width()
    assert header.model_combo.width() >= header.model_combo.minimumSizeHint().width()
