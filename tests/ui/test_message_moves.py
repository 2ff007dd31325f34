"""Quote in reply, the person's previous and next message (Alt+Up / Alt+Down), and a
bubble's full time on hover, through the real window."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.records import MessageRecord
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.chat.message_moves import MAX_QUOTE_CHARS, quoted
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.time_format import long_time
from chatdesk.vocabulary import Role
from tests.ui.conftest import add_messages
from tests.ui.test_bubble_selection import _drag, _open, _point, _reply, _where
from tests.ui.test_chat_actions import _bubble_menu, _trigger

MakeWindow = Callable[[], MainWindow]


def test_quote_in_reply_puts_the_message_or_the_selected_part_in_the_composer(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Quotes")
    reply = _reply(ui_services, me, thread.id, "First line of it.\n\nSecond **point** here.")
    window, view = _open(make_window, thread.id)
    _trigger(_bubble_menu(window, reply.id), "Quote in reply")
    assert window.composer.text() == "> First line of it.\n>\n> Second **point** here.\n\n"

    window.composer.set_text("About this:")
    start, _ = _where(view, reply.id, "Second")
    _, end = _where(view, reply.id, "point")
    _drag(qtbot, view, _point(view, reply.id, start), _point(view, reply.id, end))
    _trigger(_bubble_menu(window, reply.id), "Quote in reply")
    assert window.composer.text() == "About this:\n> Second point\n\n"
    qtbot.waitUntil(lambda: ui_services.threads.get(me, thread.id).draft == window.composer.text())


def test_a_long_message_is_quoted_cut() -> None:
    text = quoted("word " * 2_000)
    assert text.endswith(" …\n\n") and len(text) < MAX_QUOTE_CHARS + 10


def test_alt_up_and_down_walk_the_persons_messages_reading_older_pages(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long")
    add_messages(ui_services.store, thread.id, me, 400)  # user, reply, user, reply, ...
    window, view = _open(make_window, thread.id)
    model = window.message_model
    loaded = model.rowCount()
    assert loaded < 400  # a page or so: the rest is older, not read yet

    def current() -> MessageRecord:
        record = view.currentIndex().data(MessageRoles.Record)
        assert isinstance(record, MessageRecord)
        return record

    qtbot.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    newest = current()
    assert newest.role is Role.USER and newest.content.startswith("message number 398")
    qtbot.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert current().content.startswith("message number 396")
    qtbot.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert current().id == newest.id
    for _ in range(loaded):  # up past everything read at first: older pages come in
        window.chat_actions.jump_to_mine(-1)
    assert model.rowCount() > loaded
    assert current().role is Role.USER
    number = int(current().content.split()[2].strip())
    assert number <= 398 - 2 * loaded


def test_hovering_a_bubble_tells_its_full_time(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Times")
    reply = _reply(ui_services, me, thread.id, "A reply to hover over.")
    window, view = _open(make_window, thread.id)
    inside = _point(view, reply.id, 3)
    viewport = view.viewport()
    event = QHelpEvent(QEvent.Type.ToolTip, inside, viewport.mapToGlobal(inside))
    QApplication.sendEvent(viewport, event)
    assert QToolTip.text() == long_time(reply.created_at)
    assert str(reply.created_at.year) in QToolTip.text()
    QToolTip.hideText()
    outside = QPoint(2, inside.y())  # the margin beside the bubble
    QApplication.sendEvent(
        viewport, QHelpEvent(QEvent.Type.ToolTip, outside, viewport.mapToGlobal(outside))
    )
    qtbot.waitUntil(lambda: not QToolTip.isVisible() or QToolTip.text() == "")
    window.close()
