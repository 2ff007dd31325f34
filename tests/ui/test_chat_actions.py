"""The chat commands on the real window: export and import, regenerate, edit and resend,
copy the last reply or a code block, switch threads, and failed bubbles' error text.

Runs go through the real coordinator and crew worker with a scripted model; an ``echo``
reply shows what the model was told, so the tests can see that replaced answers are
left out of its context.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.services import Services
from chatdesk.services.records import MessageRecord, Version
from chatdesk.store.migrate import Store
from chatdesk.testing import ScriptedLLM
from chatdesk.ui.main_window import MainWindow
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role
from tests.ui.conftest import add_messages

RUN_TIMEOUT_MS = 30_000
CODE = 'def greet(name):\n    print(f"hi {name}")  # `quoted`\n\n\treturn None'
REPLY_WITH_CODE = f"Here you go:\n\n```python\n{CODE}\n```\n\nAnd ```` a fence run."
MakeWindow = Callable[[], MainWindow]


def _records(window: MainWindow) -> list[MessageRecord]:
    model = window.message_model
    return [model.record(row) for row in range(model.rowCount())]


def _send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    edit = window.composer.edit
    edit.setFocus()
    for n, line in enumerate(text.split("\n")):
        if n:
            qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        qtbot.keyClicks(edit, line)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def _settled(window: MainWindow, replies: int) -> bool:
    rows = _records(window)
    done = [m for m in rows if m.role is Role.ASSISTANT and m.status is MessageStatus.COMPLETED]
    return len(done) == replies and not window.message_model.is_active()


def _wait_replies(qtbot: QtBot, window: MainWindow, replies: int) -> None:
    qtbot.waitUntil(lambda: _settled(window, replies), timeout=RUN_TIMEOUT_MS)


def _bubble_menu(window: MainWindow, message_id: int, at: QPoint | None = None) -> QMenu:
    view = window.message_view
    row = window.message_model.row_of(message_id)
    assert row is not None
    rect = view.visualRect(window.message_model.index(row))
    menu = view.context_menu_for(at or rect.center())
    assert menu is not None
    return menu


def _trigger(menu: QMenu, text: str) -> None:
    actions = {a.text(): a for a in menu.actions() if not a.isSeparator()}
    assert text in actions, f"{text!r} not in {list(actions)}"
    actions[text].trigger()
    menu.deleteLater()


def _menu_texts(window: MainWindow, title: str) -> list[tuple[str, str]]:
    for action in window.menuBar().actions():
        if action.text() == title:
            menu = action.menu()
            assert isinstance(menu, QMenu)
            return [
                (a.text(), a.shortcut().toString()) for a in menu.actions() if not a.isSeparator()
            ]
    raise AssertionError(title)


def test_menus_show_the_commands_and_their_shortcuts(make_window: MakeWindow) -> None:
    window = make_window()
    file_items = _menu_texts(window, "&File")
    assert [t for t, _ in file_items] == [
        "&New chat",
        "&Import chats…",
        "Export chat as &Markdown…",
        "Export chat as Markdown, every &version…",
        "Export chat as &JSON…",
        "Export &all chats…",
        "Se&ttings…",
        "&Quit",
    ]
    chat_items = dict(_menu_texts(window, "&Chat"))
    assert chat_items["&Regenerate reply"] == "Ctrl+Shift+R"
    assert chat_items["&Copy last reply"] == "Ctrl+Shift+C"
    assert chat_items["&Next chat"] == "Ctrl+Tab"
    assert chat_items["Pre&vious chat"] == "Ctrl+Shift+Tab"
    actions = window.chat_actions
    assert [s.toString() for s in actions.next_thread_action.shortcuts()][1] == "Ctrl+PgDown"
    assert not actions.export_json_action.isEnabled()  # no chat open yet
    assert not actions.regenerate_action.isEnabled()


def test_export_then_import_gives_the_same_chat(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM, tmp_path: Path
) -> None:
    window = chatdesk_app.window
    scripted_llm.reply(REPLY_WITH_CODE, "Second answer.")
    _send(qtbot, window, "Write a greeting function")
    _wait_replies(qtbot, window, 1)
    _send(qtbot, window, "Thanks!\n  Indented second line")
    _wait_replies(qtbot, window, 2)
    original = window.current_thread_id
    assert original is not None
    actions = window.chat_actions
    assert actions.export_json_action.isEnabled()
    asked: list[str] = []

    def choose(kind: str, suggested: str) -> str:
        asked.append(suggested)
        return str(tmp_path / f"out-{kind}")  # no suffix: the right one is added

    actions.choose_export_path = choose  # type: ignore[method-assign]
    actions.export_json_action.trigger()
    actions.export_markdown_action.trigger()
    assert len(actions.export_tasks) == 2  # written in the background
    qtbot.waitUntil(lambda: not actions.export_tasks)
    assert window.toast.isVisible() and window.toast.label.text().startswith("Exported to out-")
    assert asked == ["Write a greeting function.json", "Write a greeting function.md"]
    exported = json.loads((tmp_path / "out-json.json").read_text(encoding="utf-8"))
    assert exported["format"] == "chatdesk-thread" and exported["version"] == 1
    assert all(e["steps"] > 0 for e in exported["executions"])
    markdown = (tmp_path / "out-markdown.md").read_text(encoding="utf-8")
    assert "\n## You ·" in markdown and "\n## Assistant ·" in markdown
    assert "`````" not in markdown  # the reply reads as Markdown, not as a fenced block

    actions.choose_import_path = lambda: str(tmp_path / "out-json.json")  # type: ignore[method-assign]
    actions.import_action.trigger()  # runs in the background
    task = actions.import_task
    assert task is not None
    qtbot.waitUntil(lambda: actions.import_task is None, timeout=RUN_TIMEOUT_MS)
    imported = window.current_thread_id
    assert imported is not None and imported != original
    assert window.windowTitle() == "Write a greeting function (imported) — chatdesk"
    copy = _records(window)
    window.sidebar.select_thread(original)
    source = _records(window)
    assert [(m.role, m.content, m.status, m.created_at) for m in copy] == [
        (m.role, m.content, m.status, m.created_at) for m in source
    ]
    assert copy[1].content == REPLY_WITH_CODE
    assert window.thread_model.thread_ids()[0] == imported  # newest on top


def test_import_errors_are_shown_and_change_nothing(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    window = make_window()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "chatdesk-thread", "version": 9}), encoding="utf-8")
    for path, reason in ((bad, "newer chatdesk"), (tmp_path / "missing.json", "Cannot read")):
        assert window.chat_actions.import_chat(str(path)) is not None  # checked in the background
        qtbot.waitUntil(lambda: window.chat_actions.import_task is None)
        assert window.toast.isVisible()
        assert window.toast.label.text().startswith(f"Could not import {path.name}: ")
        assert reason in window.toast.label.text()
        assert ui_services.threads.count(me) == 0


def _wait_new_reply(qtbot: QtBot, window: MainWindow, not_from: int | None) -> None:
    """Until the path shown ends in a completed reply of another run than ``not_from``."""

    def done() -> bool:
        rows = _records(window)
        return bool(
            _settled(window, 1)
            and rows[-1].role is Role.ASSISTANT
            and rows[-1].execution_id != not_from
        )

    qtbot.waitUntil(done, timeout=RUN_TIMEOUT_MS)


def test_regenerate_makes_a_version_and_keeps_the_old_reply_and_run_out_of_context(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    services, user = chatdesk_app.services, chatdesk_app.user_id
    scripted_llm.reply("A first, weak answer", {"text": "", "echo": True})
    _send(qtbot, window, "Name a colour")
    _wait_replies(qtbot, window, 1)
    question, weak = _records(window)
    assert window.chat_actions.regenerate_action.isEnabled()
    # the question's bubble offers Edit; the reply's, Regenerate
    assert "Regenerate reply" not in [a.text() for a in _bubble_menu(window, question.id).actions()]
    window.message_view.setFocus()
    qtbot.keyClick(
        window.message_view,
        Qt.Key.Key_R,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    _wait_new_reply(qtbot, window, weak.execution_id)
    rows = _records(window)
    assert [m.id for m in rows[:1]] == [question.id] and len(rows) == 2  # the path shown
    new_reply = rows[1]
    assert new_reply.version == Version(2, 2) and new_reply.parent_id == question.id
    assert "Name a colour" in new_reply.content
    assert "weak answer" not in new_reply.content  # the model never saw the other version
    assert services.messages.get(user, weak.id).version == Version(1, 2)  # kept, as version 1
    assert weak.execution_id is not None and new_reply.execution_id != weak.execution_id
    kept = services.executions.get(user, weak.execution_id)
    assert (kept.status, kept.result) == (ExecutionStatus.COMPLETED, "A first, weak answer")
    assert services.executions.logs(user, weak.execution_id)  # its trace is kept too
    scripted_llm.reply("Third try")
    _trigger(_bubble_menu(window, new_reply.id), "Regenerate reply")
    _wait_new_reply(qtbot, window, new_reply.execution_id)
    assert _records(window)[-1].content == "Third try"
    assert _records(window)[-1].version == Version(3, 3)


def test_editing_a_message_sends_a_new_version_and_keeps_the_old_one(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    services, user = chatdesk_app.services, chatdesk_app.user_id
    scripted_llm.reply("What is a tow?", {"text": "", "echo": True})
    _send(qtbot, window, "Explain tow")
    _wait_replies(qtbot, window, 1)
    question, first_reply = _records(window)
    composer = window.composer
    editor = window.message_view.bubble_editor
    qtbot.keyClicks(composer.edit, "a draft")
    # Esc leaves everything as it was, the draft included
    _trigger(_bubble_menu(window, question.id), "Edit")
    assert editor.isVisible() and editor.edit.toPlainText() == "Explain tow"
    assert editor.geometry().intersects(  # it sits over the bubble it edits
        window.message_view.visualRect(window.message_model.index(0))
    )
    qtbot.keyClick(editor.edit, Qt.Key.Key_Escape)
    assert not editor.isVisible() and composer.text() == "a draft"
    assert [m.content for m in _records(window)] == ["Explain tow", "What is a tow?"]
    _trigger(_bubble_menu(window, question.id), "Edit")
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, "Explain two")
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return)
    _wait_new_reply(qtbot, window, first_reply.execution_id)
    assert not editor.isVisible() and composer.text() == "a draft"  # the draft untouched
    rows = _records(window)
    assert [m.content for m in rows[:1]] == ["Explain two"] and len(rows) == 2
    assert rows[0].metadata["edited_from"] == question.id and rows[0].version == Version(2, 2)
    echo = rows[1].content
    assert "Explain two" in echo and "tow" not in echo.replace("two", "")
    original = services.messages.get(user, question.id)
    assert (original.content, original.version) == ("Explain tow", Version(1, 2))


def test_copy_last_reply_and_copy_code(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    scripted_llm.reply(REPLY_WITH_CODE)
    _send(qtbot, window, "code please")
    _wait_replies(qtbot, window, 1)
    clipboard = QGuiApplication.clipboard()
    clipboard.clear()
    qtbot.keyClick(
        window.composer.edit,
        Qt.Key.Key_C,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert clipboard.text() == REPLY_WITH_CODE
    reply = _records(window)[1]
    view, delegate = window.message_view, window.message_view.delegate
    index = window.message_model.index(1)
    geo = delegate.geometry(view.visualRect(index), index, view.font())
    doc = delegate.cached_document(reply.id)
    assert doc is not None
    tables = [f for f in doc.rootFrame().childFrames()]
    assert len(tables) == 1
    box = doc.documentLayout().frameBoundingRect(tables[0])
    inside = (geo.text.topLeft() + box.center()).toPoint()
    clipboard.clear()
    _trigger(_bubble_menu(window, reply.id, inside), "Copy code")
    assert clipboard.text() == CODE
    # outside the code block there is no Copy code
    above = (geo.text.topLeft() + box.topLeft()).toPoint() - QPoint(0, 8)
    menu = _bubble_menu(window, reply.id, above)
    assert "Copy code" not in [a.text() for a in menu.actions()]
    _trigger(menu, "Copy as Markdown")
    assert clipboard.text() == REPLY_WITH_CODE
    # as it reads: the fence marks are gone, the code and the words stay
    _trigger(_bubble_menu(window, reply.id, above), "Copy as plain text")
    plain = clipboard.text()
    assert "```python" not in plain and CODE in plain
    assert plain.startswith("Here you go:\n") and plain.endswith("And ```` a fence run.")


def test_ctrl_tab_and_ctrl_page_keys_move_through_the_list(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    ids = [ui_services.threads.create(me, f"Chat {n}").id for n in range(3)]
    window = make_window()
    shown = window.thread_model.thread_ids()
    assert shown == ids[::-1]  # newest first
    window.sidebar.select_thread(shown[0])
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    edit = window.composer.edit
    seen = []
    for key, mods in (
        (Qt.Key.Key_Tab, ctrl),
        (Qt.Key.Key_PageDown, ctrl),
        (Qt.Key.Key_Tab, ctrl),  # wraps to the first
        (Qt.Key.Key_Backtab, ctrl | shift),
        (Qt.Key.Key_PageUp, ctrl),
    ):
        qtbot.keyClick(edit, key, mods)
        seen.append(window.current_thread_id)
    assert seen == [shown[1], shown[2], shown[0], shown[2], shown[1]]
    assert edit.hasFocus()


def _lowest_ink(qtbot: QtBot, window: MainWindow, reply_id: int) -> int:
    """The lowest pixel row painted in the reply's status line (and a little below it)."""
    view = window.message_view
    row = window.message_model.row_of(reply_id)
    assert row is not None
    index = window.message_model.index(row)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0)
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    image = view.viewport().grab(geo.status.toAlignedRect().adjusted(0, 0, 0, 6)).toImage()
    background = image.pixelColor(0, 0)
    return max(
        y
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y) != background
    )


def _failed_reply(services: Services, me: int, error: str) -> tuple[int, int]:
    thread = services.threads.create(me, error)
    sent = services.messages.send(me, thread.id, "hi")
    assert sent.execution is not None
    start = services.executions.start(me, sent.execution.id)
    services.executions.finish(me, sent.execution.id, ExecutionStatus.FAILED, error=error)
    return thread.id, start.reply.id


def test_failed_bubbles_show_their_error_exactly(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    """The underscores of CHATDESK_LLM_MODEL used to be clipped away below the line."""
    with_underscores = _failed_reply(ui_services, me, "or set CHATDESK_LLM_MODEL.")
    with_spaces = _failed_reply(ui_services, me, "or set CHATDESK LLM MODEL.")
    window = make_window()
    ink = []
    for thread_id, reply_id in (with_underscores, with_spaces):
        window.sidebar.select_thread(thread_id)
        index = window.message_model.index(window.message_model.row_of(reply_id) or 0)
        error = window.message_model.record(index.row()).metadata["error"]
        assert window.message_view.delegate.status_line(index).text == error
        ink.append(_lowest_ink(qtbot, window, reply_id))
    assert ink[0] > ink[1]  # the underscores reach below the letters, and they are drawn
    texts = [a.text() for a in _bubble_menu(window, with_spaces[1]).actions()]
    assert "Retry" in texts and "Regenerate reply" not in texts  # one way to ask again


def test_a_long_chat_exports_in_the_background_and_failures_say_why(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    ui_store: Store,
    me: int,
    tmp_path: Path,
) -> None:
    thread = ui_services.threads.create(me, "Long")
    add_messages(ui_store, thread.id, me, 20_000)
    window = make_window()
    window.on_thread_selected(thread.id)
    actions = window.chat_actions
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    task = actions.export_current("json", str(tmp_path / "long.json"))
    assert task is not None and task.is_running()  # the window goes on meanwhile
    qtbot.waitUntil(lambda: not actions.export_tasks, timeout=60_000)
    timer.stop()
    assert len(ticks) >= 3  # the event loop kept running while it was written
    exported = json.loads((tmp_path / "long.json").read_text(encoding="utf-8"))
    assert len(exported["messages"]) == 20_000
    assert window.toast.label.text() == "Exported to long.json"

    assert actions.export_current("json", str(tmp_path / "missing" / "x.json")) is not None
    qtbot.waitUntil(lambda: not actions.export_tasks)
    assert window.toast.label.text().startswith("Could not export the chat: ")
    assert not (tmp_path / "missing").exists()


def test_overlapping_background_jobs_put_the_interpreter_settings_back() -> None:
    import gc
    import sys

    from chatdesk.ui.tasks import gui_first

    before = (gc.isenabled(), sys.getswitchinterval())
    first, second = gui_first(), gui_first()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled() and sys.getswitchinterval() < before[1]
    first.__exit__(None, None, None)  # the first job ends while the second runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert (gc.isenabled(), sys.getswitchinterval()) == before
