"""Selecting part of a message with the mouse, and code blocks that scroll sideways.

Driven through the real window: mouse and key events go to the message list's
viewport as a person's would, positions come from the very documents the delegate
paints.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import (
    QDesktopServices,
    QGuiApplication,
    QTextDocument,
    QTextTable,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.records import MessageRecord
from chatdesk.ui.chat.code_scroll import code_blocks_of
from chatdesk.ui.chat.markdown_render import SafeTextDocument
from chatdesk.ui.chat.message_model import MessageListModel
from chatdesk.ui.chat.message_view import MessageListView
from chatdesk.ui.main_window import MainWindow
from chatdesk.vocabulary import MessageStatus
from tests.ui.conftest import add_messages
from tests.ui.test_untrusted_text import assert_no_connection, hostile_reply

MakeWindow = Callable[[], MainWindow]


SENTENCE = "The quick brown fox jumps over the lazy dog."
LONG_LINE = "result = compute(" + ", ".join(f"argument_{n}" for n in range(40)) + ")"


def _reply(
    services: Services, me: int, thread_id: int, content: str, *, done: bool = True
) -> MessageRecord:
    sent = services.messages.send(me, thread_id, "tell me")
    assert sent.execution is not None
    services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = services.messages.add_reply(me, thread_id, sent.execution.id, content)
    if done:
        services.messages.set_status(me, reply.id, MessageStatus.COMPLETED)
        services.messages.set_status(me, sent.message.id, MessageStatus.COMPLETED)
    return reply


def _open(make_window: MakeWindow, thread_id: int) -> tuple[MainWindow, MessageListView]:
    window = make_window()
    window.resize(1000, 700)
    window.sidebar.select_thread(thread_id)
    view = window.message_view
    view.grab()  # lay out and paint every visible bubble
    return window, view


def _doc(view: MessageListView, message_id: int) -> QTextDocument:
    view.grab()
    doc = view.delegate.cached_document(message_id)
    assert doc is not None
    return doc


def _point(view: MessageListView, message_id: int, position: int) -> QPoint:
    """The viewport point of the cursor place before character ``position``."""
    model = view.model()
    assert isinstance(model, MessageListModel)
    row = model.row_of(message_id)
    assert row is not None
    index = model.index(row)
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    doc = _doc(view, message_id)
    block = doc.findBlock(position)
    offset = position - block.position()
    line = block.layout().lineForTextPosition(offset)
    x = line.cursorToX(offset)[0] + doc.documentLayout().blockBoundingRect(block).left()
    y = doc.documentLayout().blockBoundingRect(block).top() + line.y() + line.height() / 2
    return (geo.text.topLeft() + QPointF(x, y)).toPoint()


def _where(view: MessageListView, message_id: int, text: str) -> tuple[int, int]:
    found = _doc(view, message_id).find(text)
    assert not found.isNull(), text
    return found.selectionStart(), found.selectionEnd()


def _drag(qtbot: QtBot, view: MessageListView, start: QPoint, end: QPoint) -> None:
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    middle = (start + end) / 2
    qtbot.mouseMove(viewport, middle)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def _copy(qtbot: QtBot, view: MessageListView) -> str:
    QGuiApplication.clipboard().setText("(nothing copied)")
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    return QGuiApplication.clipboard().text()


def _wheel(view: MessageListView, pos: QPoint, dx: int, dy: int = 0) -> bool:
    viewport = view.viewport()
    event = QWheelEvent(
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(dx, dy),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)
    return event.isAccepted()


def test_drag_select_then_ctrl_c_copies_exactly_the_dragged_text(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Select")
    reply = _reply(ui_services, me, thread.id, f"{SENTENCE}\n\nA **second** paragraph.")
    _window, view = _open(make_window, thread.id)
    start, _ = _where(view, reply.id, "quick")
    _, end = _where(view, reply.id, "fox")
    _drag(qtbot, view, _point(view, reply.id, start), _point(view, reply.id, end))
    assert view.text_selection.selected_text() == "quick brown fox"
    assert _copy(qtbot, view) == "quick brown fox"
    html = QGuiApplication.clipboard().mimeData().html()
    assert "quick brown fox" in html

    # Backwards, across a paragraph break and a bold word: the text as it reads.
    _, end = _where(view, reply.id, "second")
    start, _ = _where(view, reply.id, "lazy")
    _drag(qtbot, view, _point(view, reply.id, end), _point(view, reply.id, start))
    assert _copy(qtbot, view) == "lazy dog.\nA second"

    # A plain click clears it; Ctrl+C then copies the whole message, as before.
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_point(view, reply.id, start))
    assert not view.text_selection.has_selection()
    assert _copy(qtbot, view) == reply.content


def test_double_click_selects_a_word_and_ctrl_a_the_bubble(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Words")
    reply = _reply(ui_services, me, thread.id, SENTENCE)
    _window, view = _open(make_window, thread.id)
    start, _ = _where(view, reply.id, "brown")
    qtbot.mouseDClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=_point(view, reply.id, start + 2)
    )
    assert view.text_selection.selected_text() == "brown"
    assert _copy(qtbot, view) == "brown"
    # A third click soon after selects the paragraph.
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=_point(view, reply.id, start + 2)
    )
    assert view.text_selection.selected_text() == SENTENCE

    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert view.text_selection.selected_text() == SENTENCE
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not view.text_selection.has_selection()


def test_the_context_menu_copies_the_selection_and_the_cursor_is_an_i_beam(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Menu")
    reply = _reply(ui_services, me, thread.id, SENTENCE)
    _window, view = _open(make_window, thread.id)
    start, end = _where(view, reply.id, "jumps over")
    qtbot.mouseMove(view.viewport(), _point(view, reply.id, start + 1))
    assert view.viewport().cursor().shape() == Qt.CursorShape.IBeamCursor
    _drag(qtbot, view, _point(view, reply.id, start), _point(view, reply.id, end))
    menu = view.context_menu_for(_point(view, reply.id, start + 1))
    assert menu is not None
    actions = {action.text(): action for action in menu.actions()}
    assert next(iter(actions)) == "Copy"
    actions["Copy"].trigger()
    assert QGuiApplication.clipboard().text() == "jumps over"
    actions["Copy as Markdown"].trigger()
    assert QGuiApplication.clipboard().text() == SENTENCE
    menu.deleteLater()


def test_the_selection_goes_when_another_thread_opens(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    first = ui_services.threads.create(me, "First")
    reply = _reply(ui_services, me, first.id, SENTENCE)
    second = ui_services.threads.create(me, "Second")
    other = _reply(ui_services, me, second.id, "Another answer entirely.")
    window, view = _open(make_window, first.id)
    start, end = _where(view, reply.id, "brown")
    _drag(qtbot, view, _point(view, reply.id, start), _point(view, reply.id, end))
    assert view.text_selection.has_selection(reply.id)

    window.sidebar.select_thread(second.id)
    assert not view.text_selection.has_selection()
    view.grab()
    assert view.delegate.cached_document(other.id) is not None
    window.sidebar.select_thread(first.id)
    assert not view.text_selection.has_selection()
    assert _copy(qtbot, view) != "brown"


def test_the_selection_stays_on_its_message_while_history_pages_in(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, ui_store: object, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long")
    add_messages(ui_store, thread.id, me, 400)  # type: ignore[arg-type]
    reply = _reply(ui_services, me, thread.id, SENTENCE)
    window, view = _open(make_window, thread.id)
    start, end = _where(view, reply.id, "lazy dog")
    _drag(qtbot, view, _point(view, reply.id, start), _point(view, reply.id, end))
    model = window.message_model
    before = model.row_of(reply.id)
    view.verticalScrollBar().setValue(0)
    assert view.load_older() > 0  # rows go in above: the selected row moves down
    assert model.row_of(reply.id) != before
    view.grab()
    assert view.text_selection.selected_text() == "lazy dog"
    ui_services.messages.delete(me, reply.id)
    assert not view.text_selection.has_selection()
    view.grab()


def test_a_streaming_reply_can_be_selected_while_it_streams(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Live")
    reply = _reply(ui_services, me, thread.id, "Streaming words arrive", done=False)
    window, view = _open(make_window, thread.id)
    model = window.message_model
    live: dict[int, str] = {}  # what the run coordinator holds
    model.read_live_text_from(live.get)
    start, end = _where(view, reply.id, "words")
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=_point(view, reply.id, start))
    text = "Streaming words arrive"
    for chunk in (" one by one,", " then **bold", "** and\n\n```py\nx = 1", "\n```\n\nDone."):
        text += chunk
        live[reply.id] = text
        model.on_reply_text_changed(reply.id)  # a new document under the drag
        view.grab()
        qtbot.mouseMove(viewport, _point(view, reply.id, end))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=_point(view, reply.id, end))
    assert _copy(qtbot, view) == "words"

    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    live[reply.id] = text + " More text after the selection."
    model.on_reply_text_changed(reply.id)
    view.grab()
    assert view.text_selection.selected_text().startswith("Streaming words arrive one by one")
    # The live text can also shrink (a saved copy replaces it): positions clamp.
    ui_services.messages.set_status(me, reply.id, MessageStatus.FAILED)
    view.grab()
    assert view.text_selection.selected_text().startswith("Streaming")


def test_links_open_on_click_only_and_only_http(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    listener: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    port = listener.getsockname()[1]
    thread = ui_services.threads.create(me, "Links")
    reply = _reply(
        ui_services,
        me,
        thread.id,
        f"Read [the page](http://127.0.0.1:{port}/page) or [write](mailto:a@example.com) "
        "or [f](file:///etc/passwd) today.",
    )
    _window, view = _open(make_window, thread.id)
    viewport = view.viewport()
    page, _ = _where(view, reply.id, "the page")

    # Dragging from plain text onto the link selects; it does not open the link.
    _drag(qtbot, view, _point(view, reply.id, 0), _point(view, reply.id, page + 3))
    assert view.text_selection.selected_text() == "Read the"
    assert opened == []
    # A click on it opens it (and drops the selection).
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_point(view, reply.id, page + 2))
    assert opened == [f"http://127.0.0.1:{port}/page"]
    assert not view.text_selection.has_selection()
    write, _ = _where(view, reply.id, "write")
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_point(view, reply.id, write + 2))
    passwd, _ = _where(view, reply.id, "passwd")
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_point(view, reply.id, passwd + 2))
    assert opened == [f"http://127.0.0.1:{port}/page"]
    assert_no_connection(listener)


def test_a_hostile_reply_selected_and_copied_loads_nothing(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    thread = ui_services.threads.create(me, "Hostile")
    reply = _reply(ui_services, me, thread.id, hostile_reply(port))
    _window, view = _open(make_window, thread.id)
    start, _ = _where(view, reply.id, "[image")
    _, end = _where(view, reply.id, "alert(1)</script>")
    _drag(qtbot, view, _point(view, reply.id, start), _point(view, reply.id, end))
    view.grab()
    copied = _copy(qtbot, view)
    assert copied.startswith("[image: x]") and copied.endswith("<script>alert(1)</script>")
    html = QGuiApplication.clipboard().mimeData().html()
    assert not re.search(r"<(img|script|link)\b|<[^>]*\bsrc=", html)
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    view.grab()
    assert _copy(qtbot, view).endswith("web")
    html = QGuiApplication.clipboard().mimeData().html()
    assert not re.search(r"<(img|script|link)\b|<[^>]*\bsrc=", html)
    assert re.findall(r'href="([^"]*)"', html) == [f"http://127.0.0.1:{port}/page"]
    qtbot.wait(200)
    doc = view.delegate.cached_document(reply.id)
    assert isinstance(doc, SafeTextDocument) and doc.refused == []
    assert_no_connection(listener)


def test_long_code_lines_stay_whole_and_scroll_sideways(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Code")
    prose = "Some prose that is long enough to wrap inside the bubble. " * 4
    reply = _reply(
        ui_services, me, thread.id, f"{prose}\n\n```python\n{LONG_LINE}\nshort = 1\n```\n\nEnd."
    )
    _window, view = _open(make_window, thread.id)
    doc = _doc(view, reply.id)
    width = doc.textWidth()
    code_line = doc.find("result = compute(").block()
    assert code_line.layout().lineCount() == 1  # not wrapped
    assert doc.find("Some prose").block().layout().lineCount() > 1  # prose wraps
    (block,) = code_blocks_of(doc)
    assert block.overflow > 0 and block.inner.right() <= width
    assert block.content_width == pytest.approx(block.inner.width() + block.overflow)
    scroll = view.text_selection.code_scroll
    assert scroll.offset(reply.id, block) == 0

    # A sideways wheel over the block scrolls the block, not the list.
    on_code = _point(view, reply.id, code_line.position() + 3)
    assert _wheel(view, on_code, dx=-120)
    assert scroll.offset(reply.id, block) > 0
    view.grab()
    # Far to the end: the offset stops where the longest line's end shows.
    for _ in range(100):
        _wheel(view, on_code, dx=-120)
    assert scroll.offset(reply.id, block) == block.overflow
    # A vertical wheel over it is the list's.
    _wheel(view, on_code, dx=0, dy=120)
    assert scroll.offset(reply.id, block) == block.overflow

    # What is under the pointer after scrolling is what gets selected.
    row_point = _point(view, reply.id, code_line.position())
    visible_left = QPoint(row_point.x() + 2, row_point.y())
    _drag(qtbot, view, visible_left, QPoint(visible_left.x() + 60, visible_left.y()))
    selected = view.text_selection.selected_text()
    assert selected and selected in LONG_LINE and not LONG_LINE.startswith(selected)
    assert LONG_LINE.index(selected) > 100

    # A block that fits does not take the wheel.
    short = _reply(ui_services, me, thread.id, "```\nok = True\n```")
    view.scroll_to_end()
    short_doc = _doc(view, short.id)
    assert [b.overflow for b in code_blocks_of(short_doc)] == [0]
    ok = short_doc.find("ok = True")
    assert not _wheel(view, _point(view, short.id, ok.selectionStart() + 1), dx=-120)
    # Qt leaves a table's own background unpainted: the code's cell carries it.
    cell = short_doc.rootFrame().childFrames()[0]
    assert isinstance(cell, QTextTable)
    background = cell.cellAt(0, 0).format().background()
    assert background.color().name() == view.delegate.colors.code_bg


def test_dragging_past_the_top_scrolls_the_list_and_keeps_selecting(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Tall")
    long_reply = "\n\n".join(f"Paragraph {n} of a long answer." for n in range(60))
    reply = _reply(ui_services, me, thread.id, long_reply)
    _window, view = _open(make_window, thread.id)
    view.scroll_to_end()
    bar = view.verticalScrollBar()
    start_value = bar.value()
    assert start_value > 0
    last, _ = _where(view, reply.id, "Paragraph 59")
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=_point(view, reply.id, last))
    qtbot.mouseMove(viewport, QPoint(viewport.width() // 2, -30))
    qtbot.waitUntil(lambda: bar.value() < start_value - 100)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(viewport.width() // 2, -30))
    selected = view.text_selection.selected_text()
    assert selected.endswith("Paragraph 58 of a long answer.\n") and selected.count("\n") > 3


def test_a_user_message_is_selectable_too(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Mine")
    sent = ui_services.messages.send(me, thread.id, "please look at https://example.com/x now")
    _window, view = _open(make_window, thread.id)
    start, end = _where(view, sent.message.id, "look at")
    _drag(qtbot, view, _point(view, sent.message.id, start), _point(view, sent.message.id, end))
    assert _copy(qtbot, view) == "look at"
