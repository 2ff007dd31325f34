"""The action bar a hovered (or keyboard-focused) bubble shows, and code blocks' Copy.

Driven through the real window as a person would: the pointer moves over the message
list's viewport, clicks land on the painted buttons, keys go to the focused list; runs
go through the real coordinator and crew worker with a scripted model.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QHelpEvent, QImage
from PySide6.QtWidgets import QApplication, QMenu, QToolTip
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.services import Services
from chatdesk.services.records import MessageRecord, Version
from chatdesk.testing import ScriptedLLM
from chatdesk.ui.chat.action_bar import COPIED_MS, BarCommand
from chatdesk.ui.chat.code_copy import code_button_rect
from chatdesk.ui.chat.code_scroll import code_blocks_of
from chatdesk.ui.chat.message_view import MessageListView
from chatdesk.ui.main_window import MainWindow
from chatdesk.vocabulary import MessageStatus, Role
from tests.ui.conftest import OFFSCREEN_NOISE
from tests.ui.test_bubble_selection import _reply
from tests.ui.test_chat_actions import (
    CODE,
    REPLY_WITH_CODE,
    RUN_TIMEOUT_MS,
    _failed_reply,
    _records,
    _send,
    _wait_replies,
)

MakeWindow = Callable[[], MainWindow]
# Tooltips and the More menu really show; the offscreen platform says it cannot raise
# them or grab the keyboard for them (not about chatdesk, as in conftest).
POPUP_NOISE = pytest.mark.qt_log_ignore(
    OFFSCREEN_NOISE, r"This plugin does not support (raise\(\)|grabbing the keyboard)"
)
UNLABELLED = "ls -la /tmp  # no language, still a Copy"


def _bar(view: MessageListView, message_id: int) -> dict[BarCommand, QPoint]:
    """The centre of each of the bubble's bar buttons, in viewport coordinates."""
    model = view.model()
    row = model.row_of(message_id)  # type: ignore[attr-defined]
    index = model.index(row, 0)
    buttons = view.action_bar.buttons(index, view.visualRect(index), view.font())
    return {b.command: b.rect.center().toPoint() for b in buttons}


def _bubble_centre(view: MessageListView, message_id: int) -> QPoint:
    model = view.model()
    index = model.index(model.row_of(message_id), 0)  # type: ignore[attr-defined]
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    return geo.text.center().toPoint()


def _shot(view: MessageListView, at: QPoint) -> QImage:
    """What is painted in a small square around ``at``."""
    view.viewport().repaint()
    return view.viewport().grab().toImage().copy(at.x() - 8, at.y() - 8, 16, 16)


def _hover(qtbot: QtBot, view: MessageListView, at: QPoint) -> None:
    qtbot.mouseMove(view.viewport(), at)
    qtbot.waitUntil(lambda: view.viewport().mapFromGlobal(view.viewport().cursor().pos()) == at)


def _click(qtbot: QtBot, view: MessageListView, at: QPoint) -> None:
    _hover(qtbot, view, at)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)


def _tooltip(view: MessageListView, at: QPoint) -> str:
    viewport = view.viewport()
    event = QHelpEvent(QEvent.Type.ToolTip, at, viewport.mapToGlobal(at))
    QApplication.sendEvent(viewport, event)
    text = QToolTip.text()
    QToolTip.hideText()
    return text


def _reply_with_code(qtbot: QtBot, app: ChatdeskApp, llm: ScriptedLLM) -> list[MessageRecord]:
    window = app.window
    window.resize(1000, 700)
    llm.reply(REPLY_WITH_CODE + f"\n\n```\n{UNLABELLED}\n```\n")
    _send(qtbot, window, "code please")
    _wait_replies(qtbot, window, 1)
    window.message_view.grab()
    return _records(window)


@POPUP_NOISE
def test_hovering_a_reply_shows_its_bar_and_every_button_does_its_job(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    question, reply = _reply_with_code(qtbot, chatdesk_app, scripted_llm)
    view = window.message_view
    window.composer.edit.setFocus()  # the list is not focused: only hovering shows a bar
    bar = _bar(view, reply.id)
    assert list(bar) == [BarCommand.COPY, BarCommand.REGENERATE, BarCommand.MORE]
    before = _shot(view, bar[BarCommand.REGENERATE])
    _hover(qtbot, view, _bubble_centre(view, reply.id))
    assert view.action_bar.shows_bar(reply.id) and not view.action_bar.shows_bar(question.id)
    assert _shot(view, bar[BarCommand.REGENERATE]) != before  # painted now
    assert _tooltip(view, bar[BarCommand.REGENERATE]) == "Regenerate reply (Ctrl+Shift+R)"
    assert _tooltip(view, bar[BarCommand.COPY]) == "Copy text (Ctrl+C)"
    # the list focused on another row: still one bar, the hovered one
    view.setFocus(Qt.FocusReason.TabFocusReason)
    view.select_message(question.id)
    qtbot.waitUntil(view.hasFocus)
    assert view.action_bar.shows_bar(reply.id) and not view.action_bar.shows_bar(question.id)

    clipboard = QGuiApplication.clipboard()
    clipboard.setText("(nothing)")
    _click(qtbot, view, bar[BarCommand.COPY])
    assert clipboard.text() == reply.content

    # More opens the bubble's own menu, where the pointer is
    _click(qtbot, view, bar[BarCommand.MORE])
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu))
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu) and menu.objectName() == "messageMenu"
    assert "Regenerate reply" in [a.text() for a in menu.actions()]
    menu.close()
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None)

    scripted_llm.reply("A second answer")
    _click(qtbot, view, _bar(view, reply.id)[BarCommand.REGENERATE])
    qtbot.waitUntil(
        lambda: (
            _records(window)[-1].content == "A second answer"
            and not window.message_model.is_active()
        ),
        timeout=RUN_TIMEOUT_MS,
    )
    rows = _records(window)
    assert [m.id for m in rows] == [question.id, rows[1].id] and rows[1].id != reply.id
    assert rows[1].role is Role.ASSISTANT and rows[1].version == Version(2, 2)
    assert BarCommand.REGENERATE in _bar(view, rows[1].id)  # a version can be asked again


@POPUP_NOISE
def test_every_code_block_has_a_copy_button_that_copies_its_code_exactly(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    _question, reply = _reply_with_code(qtbot, chatdesk_app, scripted_llm)
    view = window.message_view
    doc = view.delegate.cached_document(reply.id)
    assert doc is not None
    blocks = code_blocks_of(doc)
    assert len(blocks) == 2
    index = window.message_model.index(1)
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    buttons = [(geo.text.topLeft() + code_button_rect(b, view.font()).center()) for b in blocks]
    # each button sits in its block's label row, above the code (which ``inner`` holds)
    for block in blocks:
        rect = code_button_rect(block, view.font())
        assert block.box.contains(rect) and rect.bottom() <= block.inner.top() + 4
    clipboard = QGuiApplication.clipboard()
    for point, code in zip(buttons, (CODE, UNLABELLED), strict=True):
        clipboard.setText("(nothing)")
        assert _tooltip(view, point.toPoint()) == "Copy this code block"
        _click(qtbot, view, point.toPoint())
        assert clipboard.text() == code
        assert view.action_bar.copied is not None  # the button says "Copied"…
    assert view.text_selection.selection is None  # a click on Copy selects nothing
    view.text_selection.select_all(reply.id)  # the empty label row copies as nothing
    assert f"\n\n{UNLABELLED}" in view.text_selection.selected_text()
    qtbot.waitUntil(lambda: view.action_bar.copied is None, timeout=COPIED_MS * 4)  # …a moment


def test_your_own_message_offers_edit_and_the_keyboard_reaches_every_button(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    question, reply = _reply_with_code(qtbot, chatdesk_app, scripted_llm)
    view = window.message_view
    assert list(_bar(view, question.id)) == [BarCommand.COPY, BarCommand.EDIT, BarCommand.MORE]
    # no mouse from here on: focus the list, then keys
    assert not view.currentIndex().isValid()
    view.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(view.hasFocus)
    assert view.currentIndex().row() == 1  # the newest message, not the oldest
    assert view.action_bar.shows_bar(reply.id)  # the focused row shows its bar
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("(nothing)")
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.action_bar.focused == 0
    assert view.accessibleDescription().startswith("Copy text (Ctrl+C) button")
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert clipboard.text() == reply.content
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert "Regenerate reply" in view.accessibleDescription()
    qtbot.keyClick(view, Qt.Key.Key_Escape)  # out of the bar, nothing pressed
    assert view.action_bar.focused is None and window.message_model.rowCount() == 2
    qtbot.keyClick(view, Qt.Key.Key_Up)  # to the question: Right, Right, Enter edits it
    assert view.currentIndex().row() == 0
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Right):
        qtbot.keyClick(view, key)
    assert view.action_bar.focused == 1
    qtbot.keyClick(view, Qt.Key.Key_Space)
    editor = view.bubble_editor
    assert editor.isVisible() and editor.edit.toPlainText() == "code please"
    assert editor.edit.hasFocus()
    qtbot.keyClick(editor.edit, Qt.Key.Key_Escape)
    assert not editor.isVisible()
    # back on the reply: Right, Right, Enter regenerates it
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    scripted_llm.reply("Regenerated by keyboard")
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Enter):
        qtbot.keyClick(view, key)
    qtbot.waitUntil(
        lambda: (
            _records(window)[-1].content == "Regenerated by keyboard"
            and not window.message_model.is_active()
        ),
        timeout=RUN_TIMEOUT_MS,
    )
    assert _records(window)[-1].version == Version(2, 2)


def test_a_failed_reply_offers_retry_and_dragging_across_a_bar_still_selects(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, reply_id = _failed_reply(ui_services, me, "The model server went away.")
    window = make_window()
    window.resize(1000, 700)
    window.sidebar.select_thread(thread_id)
    view = window.message_view
    view.grab()
    question = _records(window)[0]
    bar = _bar(view, reply_id)
    assert list(bar) == [BarCommand.COPY, BarCommand.RETRY, BarCommand.MORE]
    with qtbot.waitSignal(window.retry_requested, timeout=10_000) as sent:
        _click(qtbot, view, bar[BarCommand.RETRY])
    assert sent.args == [question.id]
    assert ui_services.messages.get(me, question.id).status is MessageStatus.PENDING

    # a drag that starts on a message's text and ends on its bar selects text
    long = ui_services.threads.create(me, "Drag")
    typed = ui_services.messages.send(me, long.id, "The quick brown fox jumps over the lazy dog")
    window.sidebar.select_thread(long.id)
    view.grab()
    index = window.message_model.index(0)
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    start = (geo.text.topLeft() + QPointF(1, geo.text.height() / 2)).toPoint()
    end = _bar(view, typed.message.id)[BarCommand.EDIT]  # below the text: up to its end
    viewport = view.viewport()
    _hover(qtbot, view, start)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, start + QPoint(30, 0))  # a few letters in, then the bar
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert view.text_selection.has_selection(typed.message.id)
    assert view.text_selection.selected_text() == typed.message.content
    assert not view.bubble_editor.isVisible()  # the release did not press Edit


def test_pressing_a_tall_replys_bar_keeps_the_list_where_it_is(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Tall")
    tall = "\n\n".join(f"Paragraph {n} of a long answer." for n in range(60))
    reply = _reply(ui_services, me, thread.id, tall)
    window = make_window()
    window.resize(1000, 700)
    window.sidebar.select_thread(thread.id)
    view = window.message_view
    view.grab()
    view.scroll_to_end()
    scrolled = view.verticalScrollBar().value()
    assert scrolled > 0
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("(nothing)")
    _hover(qtbot, view, _bar(view, reply.id)[BarCommand.COPY] - QPoint(0, 40))
    _click(qtbot, view, _bar(view, reply.id)[BarCommand.COPY])
    assert clipboard.text() == tall
    assert view.verticalScrollBar().value() == scrolled  # not thrown up to the reply's top
