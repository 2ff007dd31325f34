"""The text size setting scales the whole window, labels that are bigger or bold included."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow


def test_the_text_size_reaches_chrome_and_chat_alike_and_goes_back(
    qtbot: QtBot, make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Sizes")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    default = QApplication.font().pointSizeF()
    title_default = window.header.title_label.font().pointSizeF()
    assert title_default == default + 1

    window.apply_font_size(16)
    try:
        assert QApplication.font().pointSizeF() == 16
        assert window.composer.edit.font().pointSizeF() == 16
        assert window.message_view.font().pointSizeF() == 16
        assert window.sidebar.view.font().pointSizeF() == 16  # the chat list, not only bubbles
        assert window.header.title_label.font().pointSizeF() == 17  # still one point bigger
        assert window.header.title_label.font().bold()
        assert window.empty_hint.font().pointSizeF() == 18
    finally:
        window.apply_font_size(0)
    assert QApplication.font().pointSizeF() == default
    assert window.header.title_label.font().pointSizeF() == title_default
