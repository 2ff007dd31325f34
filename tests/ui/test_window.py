"""The real window, driven as a person would: keys, clicks, and the services behind it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QPushButton,
)
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.records import AttachmentRecord
from chatdesk.services.threads import title_from_text
from chatdesk.store.migrate import Store
from chatdesk.ui.chat.citations import DocumentViewer
from chatdesk.ui.chat.image_viewer import ImageViewer
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.main_window import EMPTY_THREAD_HINT, NO_THREAD_HINT, MainWindow
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.setup.mcp_servers_dialog import McpServersDialog
from chatdesk.ui.setup.settings_dialog import SettingsDialog
from chatdesk.ui.theme import ThemeMode
from chatdesk.ui.threads.thread_model import ThreadRoles
from chatdesk.vocabulary import AttachmentKind, MessageStatus
from tests.ui.conftest import add_messages

MakeWindow = Callable[[], MainWindow]


def _type_and_send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    edit = window.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_empty_window_contract(make_window: MakeWindow) -> None:
    window = make_window()
    assert window.objectName() == "mainWindow"
    assert window.windowTitle() == "chatdesk"
    assert isinstance(window.findChild(QListView, "threadList"), QListView)
    assert isinstance(window.findChild(QPushButton, "newThreadButton"), QPushButton)
    assert isinstance(window.findChild(QLineEdit, "threadSearch"), QLineEdit)
    assert isinstance(window.findChild(QListView, "messageList"), QListView)
    assert isinstance(window.findChild(QPlainTextEdit, "composer"), QPlainTextEdit)
    assert isinstance(window.findChild(QPushButton, "sendButton"), QPushButton)
    assert isinstance(window.findChild(QPushButton, "stopButton"), QPushButton)
    assert isinstance(window.findChild(QDockWidget, "executionLog"), QDockWidget)
    hint = window.findChild(QLabel, "emptyHint")
    assert isinstance(hint, QLabel) and hint.isVisible() and hint.text() == NO_THREAD_HINT
    assert not window.composer.send_button.isEnabled()
    assert not window.composer.stop_button.isVisible()
    for widget in (window.composer.edit, window.sidebar.search, window.message_view):
        assert widget.accessibleName()


def test_every_object_name_the_readme_promises_exists(
    make_window: MakeWindow, tmp_path: Path
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("The other parts have stable names too:")[1].split("A complete test:")[0]
    promised = set(re.findall(r"`([a-z][A-Za-z]+)`", table)) - {"messageMenu"}  # a popup
    window = make_window()
    dialog = SettingsDialog(window.settings, [], window.probe, window)
    found = {w.objectName() for w in window.findChildren(QObject)}
    found |= {w.objectName() for w in dialog.findChildren(QObject)} | {dialog.objectName()}
    tools = McpServersDialog(tmp_path, window)
    found |= {w.objectName() for w in tools.findChildren(QObject)} | {tools.objectName()}
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    record = AttachmentRecord(1, "a.png", "image/png", 1, AttachmentKind.IMAGE, "0" * 64)
    viewer = ImageViewer(image, record, tmp_path / "a.png", window)
    found |= {w.objectName() for w in viewer.findChildren(QObject)} | {viewer.objectName()}
    text_viewer = DocumentViewer("a.txt", "one\ntwo", 1, 1, window)
    found |= {w.objectName() for w in text_viewer.findChildren(QObject)}
    found |= {text_viewer.objectName()}
    assert promised - found == set()
    text_viewer.deleteLater()
    viewer.deleteLater()
    dialog.deleteLater()
    tools.deleteLater()


def test_new_thread_by_button_and_ctrl_n(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    qtbot.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
    threads = ui_services.threads.list(me)
    assert [t.title for t in threads] == ["New chat"]
    assert window.current_thread_id == threads[0].id
    assert window.windowTitle() == "New chat — chatdesk"
    assert window.empty_hint.text() == EMPTY_THREAD_HINT
    # An empty "New chat" is reused, not piled up.
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert len(ui_services.threads.list(me)) == 1
    _type_and_send(qtbot, window, "Plan a trip to Lisbon")
    assert ui_services.threads.get(me, threads[0].id).title == "Plan a trip to Lisbon"
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert len(ui_services.threads.list(me)) == 2
    assert window.sidebar.model.rowCount() == 2
    assert window.current_thread_id == ui_services.threads.list(me)[0].id


def test_typing_sending_and_a_simulated_run(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    edit = window.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "first line")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "second line")
    assert edit.toPlainText() == "first line\nsecond line"
    assert window.composer.send_button.isEnabled()
    stops: list[int] = []
    window.stop_requested.connect(stops.append)

    qtbot.keyClick(edit, Qt.Key.Key_Return)  # no thread open: one is created from line 1
    (thread,) = ui_services.threads.list(me)
    assert thread.title == "first line"
    assert edit.toPlainText() == ""
    model = window.message_model
    assert model.rowCount() == 1
    user_index = model.index(0)
    assert user_index.data(MessageRoles.Status) == "pending"
    assert user_index.data(MessageRoles.Content) == "first line\nsecond line"
    assert window.composer.stop_button.isVisible()
    assert window.message_view.isVisible()

    window.sidebar.search.setFocus()
    qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Escape)  # not from the sidebar
    assert stops == []
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Escape)  # Esc in the chat asks to stop the run
    execution_id = user_index.data(MessageRoles.ExecutionId)
    assert stops == [execution_id]
    qtbot.mouseClick(window.composer.stop_button, Qt.MouseButton.LeftButton)
    assert stops == [execution_id, execution_id]

    # Simulate the coordinator: processing, a streamed reply, completion.
    message_id = user_index.data(MessageRoles.MessageId)
    ui_services.messages.set_status(me, message_id, MessageStatus.PROCESSING)
    reply = ui_services.messages.add_reply(me, thread.id, execution_id)
    assert model.rowCount() == 2 and model.index(1).data(MessageRoles.Status) == "processing"
    ui_services.messages.edit(me, reply.id, "Here is **part**")
    window.message_view.grab()
    ui_services.messages.edit(me, reply.id, "Here is **part** and the rest.")
    assert model.index(1).data(MessageRoles.Content) == "Here is **part** and the rest."
    ui_services.messages.set_status(me, reply.id, MessageStatus.COMPLETED)
    ui_services.messages.set_status(me, message_id, MessageStatus.COMPLETED)
    assert model.index(1).data(MessageRoles.Status) == "completed"
    assert not window.composer.stop_button.isVisible()
    assert not window.stop_action.isEnabled()
    qtbot.keyClicks(edit, "sent with ctrl+enter")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert model.rowCount() == 3 and model.index(2).data(MessageRoles.Content).endswith("enter")
    window.message_view.grab()
    doc = window.message_view.delegate.cached_document(reply.id)
    assert doc is not None and doc.toPlainText() == "Here is part and the rest."


def test_empty_text_cannot_be_sent_and_errors_keep_the_text(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    edit = window.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "   ")
    assert not window.composer.send_button.isEnabled()
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert ui_services.threads.list(me) == []
    too_long = "x" * 100_001
    edit.setPlainText(too_long)
    qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    assert window.composer.error_label.isVisible()
    assert "limit" in window.composer.error_label.text()
    assert edit.toPlainText() == too_long
    assert ui_services.threads.list(me) == []


def test_rename_pin_and_search(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    for title in ("Groceries", "Regex help", "Trip to Lisbon"):
        ui_services.threads.create(me, title)
    window = make_window()
    sidebar = window.sidebar
    lisbon, regex, groceries = (t.id for t in ui_services.threads.list(me))
    sidebar.select_thread(groceries)

    qtbot.keyClick(sidebar.view, Qt.Key.Key_F2)  # inline rename
    editor = sidebar.view.findChild(QLineEdit)
    assert isinstance(editor, QLineEdit) and editor.isVisible()
    editor.selectAll()
    qtbot.keyClicks(editor, "Weekly shopping")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next loop turn
    qtbot.waitUntil(lambda: ui_services.threads.get(me, groceries).title == "Weekly shopping")
    assert window.windowTitle() == "Weekly shopping — chatdesk"

    window.pin_action.trigger()  # pin the open thread: it moves to the top
    assert sidebar.model.thread_ids()[0] == groceries
    assert sidebar.model.index(0, 0).data(ThreadRoles.Group) == "Pinned"
    assert sidebar.current_thread_id() == groceries

    qtbot.keyClick(window.composer.edit, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert sidebar.search.hasFocus()
    qtbot.keyClicks(sidebar.search, "lis")
    assert sidebar.model.rowCount() == 1
    assert sidebar.model.index(0, 0).data(ThreadRoles.ThreadId) == lisbon
    assert window.current_thread_id == groceries  # the open chat stays open while filtering
    qtbot.keyClicks(sidebar.search, "zzz")
    assert sidebar.model.rowCount() == 0 and sidebar.empty.isVisible()
    sidebar.search.clear()
    assert sidebar.model.rowCount() == 3
    assert sidebar.current_thread_id() == groceries  # and selected again
    assert regex in sidebar.model.thread_ids()


def test_delete_then_undo_keeps_the_thread(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    keep = ui_services.threads.create(me, "Keep me")
    ui_services.messages.send(me, keep.id, "precious", triggers_execution=False)
    other = ui_services.threads.create(me, "Other")
    window = make_window()
    window.sidebar.select_thread(keep.id)
    window.sidebar.view.setFocus()
    qtbot.keyClick(window.sidebar.view, Qt.Key.Key_Delete)
    assert window.sidebar.model.thread_ids() == [other.id]
    assert window.toast.isVisible() and "deleted" in window.toast.label.text()
    assert window.current_thread_id == other.id
    assert ui_services.threads.get(me, keep.id).title == "Keep me"  # not deleted yet

    qtbot.keyClick(window.sidebar.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.sidebar.model.thread_ids() == [other.id, keep.id]
    assert window.current_thread_id == keep.id
    assert not window.toast.isVisible()
    assert [m.content for m in ui_services.messages.list(me, keep.id).messages] == ["precious"]

    # The toast's own Undo button works too.
    window.on_delete(keep.id)
    qtbot.mouseClick(window.toast.button, Qt.MouseButton.LeftButton)
    assert keep.id in window.sidebar.model.thread_ids()
    assert window.pending_deletes.pending() == []


def test_delete_happens_when_undo_expires_or_on_close(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    gone = ui_services.threads.create(me, "Gone soon")
    later = ui_services.threads.create(me, "Gone on close")
    window = make_window()
    window.pending_deletes.timeout_ms = 150
    window.on_delete(gone.id)
    assert {t.id for t in ui_services.threads.list(me)} == {gone.id, later.id}
    qtbot.waitUntil(lambda: gone.id not in {t.id for t in ui_services.threads.list(me)})
    assert not window.undo_action.isEnabled()

    window.pending_deletes.timeout_ms = 60_000
    window.on_delete(later.id)
    window.close()
    assert ui_services.threads.list(me) == []


def test_drafts_follow_threads_and_survive_a_restart(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    a = ui_services.threads.create(me, "A")
    b = ui_services.threads.create(me, "B")
    window = make_window()
    window.sidebar.select_thread(a.id)
    qtbot.keyClicks(window.composer.edit, "half a thought")
    window.sidebar.select_thread(b.id)  # switching saves A's draft at once
    assert ui_services.threads.get(me, a.id).draft == "half a thought"
    assert window.composer.text() == ""
    qtbot.keyClicks(window.composer.edit, "note for B")
    qtbot.waitUntil(lambda: ui_services.threads.get(me, b.id).draft == "note for B", timeout=2000)
    window.sidebar.select_thread(a.id)
    assert window.composer.text() == "half a thought"
    window.resize(720, 520)
    window.close()

    again = make_window()
    assert again.current_thread_id == a.id
    assert again.composer.text() == "half a thought"
    assert (again.width(), again.height()) == (720, 520)
    again.sidebar.select_thread(b.id)
    assert again.composer.text() == "note for B"


def test_older_history_loads_at_the_top_keeping_the_view_still(
    qtbot: QtBot, make_window: MakeWindow, ui_store: Store, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long")
    add_messages(ui_store, thread.id, me, 300)
    window = make_window()
    window.message_model.page_size = 50
    window.on_thread_selected(0)  # (it opened as the only thread, with the usual page)
    window.on_thread_selected(thread.id)
    view, model = window.message_view, window.message_model
    assert model.rowCount() == 50
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())

    anchor_id = model.index(0).data(MessageRoles.MessageId)
    bar.setValue(0)  # the person scrolls to the top; the older page comes on the next turn
    top_before = view.visualRect(model.index(0)).top()
    qtbot.waitUntil(lambda: model.rowCount() >= 100)
    anchor_row = model.row_of(anchor_id)
    assert anchor_row == 50
    assert abs(view.visualRect(model.index(anchor_row)).top() - top_before) <= 2
    assert bar.value() > view.viewport().height()  # far enough from the top: no cascade
    qtbot.wait(50)
    assert model.rowCount() == 100


def test_new_messages_scroll_only_when_at_the_bottom(
    qtbot: QtBot, make_window: MakeWindow, ui_store: Store, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Chatty")
    add_messages(ui_store, thread.id, me, 40)
    window = make_window()
    window.sidebar.select_thread(thread.id)
    bar = window.message_view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    ui_services.messages.send(me, thread.id, "new at the bottom", triggers_execution=False)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() and window.message_view.is_at_bottom())
    bar.setValue(bar.maximum() // 2)
    qtbot.wait(150)  # older pages it may bring in keep the text in place
    reading = bar.value()
    ui_services.messages.send(me, thread.id, "another one", triggers_execution=False)
    qtbot.wait(150)
    assert bar.value() == reading


def test_retry_from_a_failed_bubble(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Flaky")
    sent = ui_services.messages.send(me, thread.id, "please answer")
    assert sent.execution is not None
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id, "partial")
    ui_services.messages.set_status(me, reply.id, MessageStatus.FAILED)
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.FAILED)
    window = make_window()
    window.sidebar.select_thread(thread.id)
    retried: list[int] = []
    window.retry_requested.connect(retried.append)
    view = window.message_view
    row = window.message_model.row_of(reply.id)
    assert row is not None
    index = window.message_model.index(row)
    assert index.data(MessageRoles.CanRetry) is True
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    assert geo.retry is not None
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=geo.retry.center().toPoint())
    assert retried == [sent.message.id]
    assert ui_services.messages.get(me, sent.message.id).status is MessageStatus.PENDING
    assert window.composer.stop_button.isVisible()


def test_run_details_and_theme(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Details")
    sent = ui_services.messages.send(me, thread.id, "hello")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    window.details_action.trigger()
    assert window.execution_panel.isVisible()
    window.message_view.select_message(sent.message.id)
    panel = window.execution_panel
    assert panel.value("status") == "waiting"
    assert panel.value("execution") == f"#{sent.execution.id}"  # type: ignore[union-attr]
    assert panel.value("execution_status") == "waiting"
    assert panel.value("crew") == "assistant"

    window.on_theme_selected(ThemeMode.DARK)
    assert UiSettings().theme is ThemeMode.DARK
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
    window.on_theme_selected(ThemeMode.LIGHT)
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > 200


def test_title_from_text() -> None:
    assert title_from_text("\n  Hello   there \nsecond") == "Hello there"
    long = title_from_text("word " * 40)
    assert len(long) <= 60 and long.endswith("…")
    assert title_from_text("   ") == "New chat"
