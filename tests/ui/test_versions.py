"""Versions in the window: ``‹ 2 / 3 ›`` under a bubble, its arrows, Alt+Left/Right."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.testing import VERSION_FIELDS, flip_version, rows
from chatdesk.ui.chat.message_delegate import version_label
from chatdesk.ui.chat.message_model import FLIP_ROWS, MessageRoles
from chatdesk.ui.chat.version_switcher import VersionSwitcher
from chatdesk.ui.main_window import MainWindow
from chatdesk.vocabulary import ExecutionStatus
from tests.ui.conftest import add_messages
from tests.ui.test_chat_actions import _records

MakeWindow = Callable[[], MainWindow]


def _answer(services: Services, me: int, execution_id: int, text: str) -> None:
    services.executions.start(me, execution_id)
    services.executions.finish(me, execution_id, ExecutionStatus.COMPLETED, text=text)


def _three_takes(services: Services, me: int) -> tuple[int, int]:
    """A chat whose second question has three replies, the last with a follow-up."""
    thread = services.threads.create(me, "takes")
    first = services.messages.send(me, thread.id, "one")
    assert first.execution is not None
    _answer(services, me, first.execution.id, "answer one")
    question = services.messages.send(me, thread.id, "two")
    assert question.execution is not None
    _answer(services, me, question.execution.id, "take 1")
    for take in (2, 3):
        again = services.messages.regenerate(me, question.message.id)
        assert again.execution is not None
        _answer(services, me, again.execution.id, f"take {take}")
    follow = services.messages.send(me, thread.id, "more about take 3")
    assert follow.execution is not None
    _answer(services, me, follow.execution.id, "more")
    return thread.id, question.message.id


def _label_point(window: MainWindow, message_id: int, step: int) -> QPoint:
    """A point on the ‹ (step -1) or › (step +1) of a bubble's version label."""
    view = window.message_view
    row = window.message_model.row_of(message_id)
    assert row is not None
    index = window.message_model.index(row)
    rect = view.visualRect(index)
    geo = view.delegate.geometry(rect, index, view.font())
    left, right = view.delegate.status_span(rect, index, view.font())
    y = int(geo.status.center().y())
    for x in range(int(left) - 4, int(right) + 4):
        if view.delegate.version_step_at(rect, index, view.font(), QPoint(x, y).toPointF()) == step:
            return QPoint(x + 1, y)
    raise AssertionError("no arrow found")


def test_a_reply_with_versions_flips_by_click_and_by_keys_and_remembers(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, _question = _three_takes(ui_services, me)
    window = make_window()
    window.resize(1000, 700)
    window.sidebar.select_thread(thread_id)
    view = window.message_view
    view.grab()
    rows = _records(window)
    assert [m.content for m in rows] == [
        "one",
        "answer one",
        "two",
        "take 3",
        "more about take 3",
        "more",
    ]
    model = window.message_model
    take = model.index(3)
    assert (take.data(MessageRoles.VersionIndex), take.data(MessageRoles.VersionCount)) == (3, 3)
    assert take.data(MessageRoles.ParentId) == rows[2].id
    assert version_label(take) == "‹ 3 / 3 ›"
    assert version_label(model.index(2)) == ""  # one version: no label
    assert view.delegate.status_line(take).text.startswith("‹ 3 / 3 ›")
    roles = {bytes(name).decode() for name in model.roleNames().values()}
    assert {"parentId", "versionIndex", "versionCount"} <= roles
    switcher = window.findChild(QObject, "versionSwitcher")
    assert isinstance(switcher, VersionSwitcher)

    # a click on ‹ shows take 2, and the conversation below it: none
    with qtbot.waitSignal(switcher.flipped, timeout=5_000):
        qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=_label_point(window, rows[3].id, -1)
        )
    assert [m.content for m in _records(window)] == ["one", "answer one", "two", "take 2"]
    assert version_label(model.index(3)) == "‹ 2 / 3 ›"
    assert view.currentIndex().row() == 3
    assert view.accessibleDescription() == "Version 2 of 3"

    # keys: Alt+Left to take 1, Alt+Left again does nothing more, Alt+Right back to 2
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert _records(window)[3].content == "take 1"
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert _records(window)[3].content == "take 1"
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert [m.content for m in _records(window)][3:] == ["take 3", "more about take 3", "more"]
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert _records(window)[-1].content == "take 2"

    # remembered: the chat opens again on take 2, in another window too
    other = make_window()
    other.sidebar.select_thread(thread_id)
    assert [m.content for m in _records(other)][-1] == "take 2"
    # and a new message continues the version shown
    sent = ui_services.messages.send(me, thread_id, "about take 2")
    qtbot.waitUntil(lambda: _records(window)[-1].id == sent.message.id, timeout=5_000)
    assert [m.content for m in _records(window)][-2:] == ["take 2", "about take 2"]


def _menu_action(window: MainWindow, message_id: int, text: str) -> QAction:
    view = window.message_view
    row = window.message_model.row_of(message_id)
    assert row is not None
    menu = view.context_menu_for(view.visualRect(window.message_model.index(row)).center())
    assert menu is not None
    action = next((a for a in menu.actions() if a.text() == text), None)
    assert action is not None, [a.text() for a in menu.actions()]
    return action


def test_delete_asks_takes_the_branch_and_undo_brings_it_back(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread_id, _question = _three_takes(ui_services, me)
    window = make_window()
    window.resize(1000, 700)
    window.sidebar.select_thread(thread_id)
    before = [m.content for m in _records(window)]
    asked: list[int] = []
    answers = iter([False, True])

    def confirm(count: int) -> bool:
        asked.append(count)
        return next(answers)

    monkeypatch.setattr(window.branch_actions, "confirm_delete", confirm)
    take3 = _records(window)[3]
    _menu_action(window, take3.id, "Delete…").trigger()  # said no: nothing goes
    assert [m.content for m in _records(window)] == before
    _menu_action(window, take3.id, "Delete…").trigger()
    assert asked == [3, 3]  # the reply and the two messages below it
    # the path moves to the newest version left: take 2, which has nothing below
    assert [m.content for m in _records(window)] == ["one", "answer one", "two", "take 2"]
    assert _records(window)[3].version is not None
    assert _records(window)[3].version.count == 2
    assert window.toast.isVisible() and window.toast.button.text() == "Undo"
    qtbot.mouseClick(window.toast.button, Qt.MouseButton.LeftButton)
    assert [m.content for m in _records(window)] == before  # back, as it was
    assert _records(window)[3].version is not None and _records(window)[3].version.count == 3
    # a question's delete takes its answers; a run still going refuses it
    sent = ui_services.messages.send(me, thread_id, "still waiting")
    qtbot.waitUntil(lambda: _records(window)[-1].id == sent.message.id, timeout=5_000)
    monkeypatch.setattr(window.branch_actions, "confirm_delete", lambda _count: True)
    _menu_action(window, sent.message.id, "Delete…").trigger()
    assert "still being written" in window.toast.label.text()
    assert _records(window)[-1].id == sent.message.id


def test_branch_into_a_new_chat_opens_it_with_the_path_up_to_the_message(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, _question = _three_takes(ui_services, me)
    window = make_window()
    window.sidebar.select_thread(thread_id)
    take3 = _records(window)[3]
    _menu_action(window, take3.id, "Branch into new chat").trigger()
    qtbot.waitUntil(lambda: window.current_thread_id != thread_id, timeout=5_000)
    assert [m.content for m in _records(window)] == ["one", "answer one", "two", "take 3"]
    assert ui_services.threads.get(me, window.current_thread_id or 0).title == "takes (branch)"
    assert "Branched into" in window.toast.label.text()
    # the copied message links back: a click on "Branched from …" opens the original there
    view = window.message_view
    index = window.message_model.index(3)
    status = view.delegate.status_line(index)
    assert status.origin and status.text.startswith("Branched from “takes” · ")
    rect = view.visualRect(index)
    geo = view.delegate.geometry(rect, index, view.font())
    left, _right = view.delegate.status_span(rect, index, view.font())
    point = QPoint(int(left) + 20, int(geo.status.center().y()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: window.current_thread_id == thread_id, timeout=5_000)
    assert window.message_model.row_of(take3.id) is not None


def test_markdown_of_every_version_from_the_file_menu(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    thread_id, _question = _three_takes(ui_services, me)
    window = make_window()
    window.sidebar.select_thread(thread_id)
    shown, every = tmp_path / "shown.md", tmp_path / "every.md"
    for kind, path in (("markdown", shown), ("markdown-all", every)):
        task = window.chat_actions.export_current(kind, str(path))
        assert task is not None
        with qtbot.waitSignal(task.succeeded, timeout=10_000):
            pass
    assert "take 1" not in shown.read_text(encoding="utf-8")
    text = every.read_text(encoding="utf-8")
    assert text.index("take 1") < text.index("take 2") < text.index("take 3")
    assert "· version 3 of 3" in text


def test_the_plugin_reads_and_flips_versions(
    make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, _question = _three_takes(ui_services, me)
    window = make_window()
    window.sidebar.select_thread(thread_id)
    take3 = rows(window, VERSION_FIELDS)[3]
    assert (take3["content"], take3["versionIndex"], take3["versionCount"]) == ("take 3", 3, 3)
    assert flip_version(window, take3["messageId"], -1)
    assert rows(window, VERSION_FIELDS)[3]["content"] == "take 2"
    assert not flip_version(window, rows(window)[0]["messageId"], 1)  # one version only


def test_a_flip_above_a_long_branch_shows_a_screenful_then_reads_on_as_it_scrolls(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, _question = _three_takes(ui_services, me)
    take_3 = ui_services.messages.list(me, thread_id).messages[3]
    add_messages(ui_services.store, thread_id, me, 300)  # a long conversation below take 3
    window = make_window()
    window.resize(1000, 700)
    window.sidebar.select_thread(thread_id)
    model, view = window.message_model, window.message_view
    model.load_around(take_3.id)
    assert window.message_view.version_switcher.flip(take_3.id, -1)  # take 2: nothing below
    assert [m.content for m in _records(window)][-1] == "take 2"
    assert window.message_view.version_switcher.flip(model.record(3).id, 1)  # back to take 3
    assert model.rowCount() == 3 + 1 + FLIP_ROWS  # the rows above, take 3, a screenful
    assert model.has_newer
    for _ in range(40):  # scrolling on reads the rest of the branch
        view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())
        qtbot.wait(20)
        if not model.has_newer:
            break
    assert not model.has_newer
    assert (
        _records(window)[-1].content
        == "message number 299\n\nsome text to make the bubble a little taller"
    )
    assert ui_services.threads.get(me, thread_id).current_leaf_id == _records(window)[-1].id


def test_run_details_read_the_selected_message_only_once_shown(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread_id, _question = _three_takes(ui_services, me)
    window = make_window()
    window.sidebar.select_thread(thread_id)
    panel = window.execution_panel
    assert not panel.isVisible()
    take_3 = _records(window)[3]
    window.message_view.select_message(take_3.id)  # a hidden panel
    assert panel.model.rowCount() == 0  # nothing read for a panel nobody sees
    window.details_action.trigger()
    qtbot.waitUntil(lambda: take_3.execution_id in panel.model.run_ids(), timeout=5_000)
