"""Every part of the window tells the person things through one ``Notices`` bridge."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.notices import NoticeKind


def test_the_window_its_actions_and_its_header_all_tell_through_the_one_bridge(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    told: list[tuple[str, NoticeKind]] = []
    window.notices.shown.connect(lambda text, kind: told.append((text, kind)))
    window.chat_actions.copy_last_reply()  # the chat actions
    window.on_link_activated("file:///etc/passwd")  # the window itself
    window.header.error.emit("The model list could not be read.")  # a widget's signal
    assert told == [
        ("No reply to copy yet.", NoticeKind.ERROR),
        ("Only web links (http, https) open from a chat.", NoticeKind.ERROR),
        ("The model list could not be read.", NoticeKind.ERROR),
    ]
    qtbot.waitUntil(window.toast.isVisible)
    assert window.toast.label.text() == "The model list could not be read."
    assert not hasattr(window, "_notify")
