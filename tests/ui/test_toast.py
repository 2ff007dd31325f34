"""The notice at the bottom of the chat stands out in both themes and never hides the
last line of the conversation."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.theme import ThemeMode

from .conftest import add_messages


def test_a_toast_leaves_the_last_message_readable(
    qtbot: QtBot, make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long")
    add_messages(ui_services.store, thread.id, me, 40)
    window = make_window()
    window.sidebar.select_thread(thread.id)
    view = window.message_view
    view.scroll_to_end()
    qtbot.waitUntil(view.is_at_bottom)
    window.toast.show_message("Chat deleted", "Undo")
    qtbot.waitUntil(window.toast.isVisible)
    qtbot.waitUntil(view.is_at_bottom)
    last = view.visualRect(view.model().index(view.model().rowCount() - 1, 0))
    bottom = view.viewport().mapTo(window.message_stack, QPoint(0, last.bottom())).y()
    assert bottom < window.toast.geometry().top()  # the last line is above the notice
    window.toast.hide()
    qtbot.waitUntil(lambda: view.viewportMargins().bottom() == 0)


def _luminance(color: QColor) -> float:
    return 0.2126 * color.redF() + 0.7152 * color.greenF() + 0.0722 * color.blueF()


def test_the_toast_stands_out_in_the_dark_theme_too(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    for mode in (ThemeMode.LIGHT, ThemeMode.DARK):
        window.on_theme_selected(mode)
        window.toast.show_message("Saved", "Undo")
        qtbot.waitUntil(window.toast.isVisible)
        qtbot.wait(50)  # the style sheet of the new theme reaches the toast
        toast = window.toast.grab().toImage().pixelColor(window.toast.width() // 2, 3)
        corner = window.message_view.viewport().mapTo(window, QPoint(5, 5))
        behind = window.grab().toImage().pixelColor(corner)
        assert abs(_luminance(toast) - _luminance(behind)) > 0.5, (mode, toast.name())
        window.toast.hide()
    window.on_theme_selected(ThemeMode.LIGHT)
