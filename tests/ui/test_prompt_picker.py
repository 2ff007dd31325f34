"""``/`` in the real window's composer: the saved prompts, filtered, inserted by keyboard
or mouse, their variables asked for; a ``/`` inside a sentence stays text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.errors import StorageError, StorageFault
from chatdesk.ui.chat.prompt_picker import PromptPicker, find_trigger
from chatdesk.ui.chat.prompt_variables import PromptVariablesDialog
from chatdesk.ui.main_window import MainWindow


@pytest.fixture
def window(make_window: Callable[[], MainWindow], ui_services: Services, me: int) -> MainWindow:
    ui_services.prompts.create(me, "Summary", "Summarise this in three bullet points.")
    ui_services.prompts.create(me, "Translate", "Translate into {{language|French}}: {{text}}")
    ui_services.prompts.create(me, "Review code", "Review this code for bugs.")
    return make_window()


def _picker(window: MainWindow) -> PromptPicker:
    picker = window.findChild(QWidget, "promptPicker")
    assert isinstance(picker, PromptPicker)
    return picker


def test_slash_filters_moves_and_enter_inserts_without_sending(
    qtbot: QtBot, window: MainWindow
) -> None:
    edit, picker = window.composer.edit, _picker(window)
    qtbot.keyClicks(edit, "/")
    assert picker.isVisible()
    assert picker.names() == ["Review code", "Summary", "Translate"]
    assert (
        picker.geometry().bottom()
        < window.composer.mapTo(window.chat_pane, window.composer.rect().topLeft()).y()
    )
    qtbot.keyClicks(edit, "T")  # names starting with it first, then texts holding it
    assert picker.names() == ["Translate", "Review code", "Summary"]
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    assert picker.current_name() == "Summary"
    qtbot.keyClick(edit, Qt.Key.Key_Down)  # wraps around
    assert picker.current_name() == "Translate"
    qtbot.keyClick(edit, Qt.Key.Key_Up)
    assert picker.current_name() == "Summary"
    with qtbot.assertNotEmitted(window.composer.send_requested):
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert edit.toPlainText() == "Summarise this in three bullet points."
    assert not picker.isVisible()
    assert edit.hasFocus()


def test_tab_inserts_in_the_middle_of_a_draft_and_undo_brings_the_slash_back(
    qtbot: QtBot, window: MainWindow
) -> None:
    edit, picker = window.composer.edit, _picker(window)
    window.composer.set_text("Hello 😀\n")
    qtbot.keyClicks(edit, "  /rev")
    assert picker.names() == ["Review code"]
    qtbot.keyClick(edit, Qt.Key.Key_Tab)
    assert edit.toPlainText() == "Hello 😀\n  Review this code for bugs."
    assert edit.hasFocus()  # Tab inserted; it did not move the focus
    edit.undo()
    assert edit.toPlainText() == "Hello 😀\n  /rev"


def test_escape_closes_and_leaves_the_text_until_the_slash_is_typed_again(
    qtbot: QtBot, window: MainWindow
) -> None:
    edit, picker = window.composer.edit, _picker(window)
    window.stop_action.setEnabled(True)  # as while a reply streams: Esc would stop it
    qtbot.keyClicks(edit, "/sum")
    with qtbot.assertNotEmitted(window.stop_action.triggered):
        qtbot.keyClick(edit, Qt.Key.Key_Escape)
    window.stop_action.setEnabled(False)
    assert not picker.isVisible()
    assert edit.toPlainText() == "/sum"
    qtbot.keyClicks(edit, "m")
    assert not picker.isVisible()
    for _ in range(5):
        qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, "/")
    assert picker.isVisible()


def test_a_slash_in_a_sentence_or_a_path_is_text(qtbot: QtBot, window: MainWindow) -> None:
    edit, picker = window.composer.edit, _picker(window)
    qtbot.keyClicks(edit, "and/or ")
    assert not picker.isVisible()
    window.composer.set_text("")
    qtbot.keyClicks(edit, "/usr/")
    assert not picker.isVisible()
    window.composer.set_text("")
    qtbot.keyClicks(edit, "/nothing matches this")
    assert not picker.isVisible()
    qtbot.keyClick(edit, Qt.Key.Key_Return)  # the picker is closed: Enter sends as ever
    assert edit.toPlainText() == ""


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("/", (0, "")),
        ("  /sum", (2, "sum")),
        ("\t/a b", (1, "a b")),
        ("x /a", None),
        ("/a/b", None),
    ],
)
def test_where_a_slash_opens_the_list(line: str, found: tuple[int, str] | None) -> None:
    trigger = find_trigger(line)
    assert (None if trigger is None else (trigger.slash, trigger.query)) == found


def test_variables_are_asked_for_with_defaults_then_inserted(
    qtbot: QtBot, window: MainWindow
) -> None:
    edit, picker = window.composer.edit, _picker(window)
    qtbot.keyClicks(edit, "/transl")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    dialog = window.findChild(PromptVariablesDialog, "promptVariables")
    assert dialog is not None and dialog.isVisible()
    language = dialog.findChild(QLineEdit, "promptVariable0")
    assert language is not None and language.text() == "French"
    qtbot.waitUntil(language.hasFocus)
    qtbot.keyClicks(language, "German")  # the default was selected: typing replaces it
    qtbot.keyClick(language, Qt.Key.Key_Tab)
    text_field = dialog.findChild(QLineEdit, "promptVariable1")
    assert text_field is not None and text_field.hasFocus()
    qtbot.keyClicks(text_field, "Guten Tag")
    with qtbot.waitSignal(dialog.finished):
        qtbot.keyClick(text_field, Qt.Key.Key_Return)
    assert edit.toPlainText() == "Translate into German: Guten Tag"
    assert not picker.isVisible()
    qtbot.waitUntil(lambda: window.focusWidget() is edit)


def test_cancelling_the_variables_keeps_what_was_typed(qtbot: QtBot, window: MainWindow) -> None:
    edit = window.composer.edit
    qtbot.keyClicks(edit, "/transl")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    dialog = window.findChild(PromptVariablesDialog, "promptVariables")
    assert dialog is not None
    with qtbot.waitSignal(dialog.finished):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert edit.toPlainText() == "/transl"
    assert not _picker(window).isVisible()


def test_a_click_inserts_too(qtbot: QtBot, window: MainWindow) -> None:
    edit, picker = window.composer.edit, _picker(window)
    qtbot.keyClicks(edit, "/")
    item = picker.list.item(1)
    rect = picker.list.visualItemRect(item)
    qtbot.mouseClick(picker.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert edit.toPlainText() == "Summarise this in three bullet points."


def test_no_prompts_yet_says_where_to_add_them(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    edit, picker = window.composer.edit, _picker(window)
    qtbot.keyClicks(edit, "/")
    assert picker.isVisible() and "Chat › Prompts…" in picker.hint.text()
    qtbot.keyClick(edit, Qt.Key.Key_Tab)  # only a hint: Tab moves on as ever
    assert not edit.hasFocus()
    edit.setFocus()
    qtbot.keyClicks(edit, "x")
    assert not picker.isVisible()


def test_the_preview_is_one_line_of_visible_text(
    qtbot: QtBot, make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    ui_services.prompts.create(me, "Odd", "first\u202e line\n\n  second\tline  " + "x" * 400)
    window = make_window()
    picker = _picker(window)
    qtbot.keyClicks(window.composer.edit, "/odd")
    preview = picker.preview.text()
    assert preview.startswith("first line ⏎ second line xxx")
    assert "\u202e" not in preview and "\n" not in preview
    assert len(preview) == 300 and preview.endswith("…")


def test_a_store_that_cannot_be_read_is_said_and_the_text_stays(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(_user_id: int) -> list[object]:
        raise StorageError(StorageFault.BUSY, "The database is busy; try again in a moment.")

    monkeypatch.setattr(window.services.prompts, "list", busy)
    edit, picker = window.composer.edit, _picker(window)
    qtbot.keyClicks(edit, "/")
    assert picker.isVisible()
    assert picker.hint.text() == (
        "The saved prompts cannot be read now: The database is busy; try again in a moment."
    )
    qtbot.keyClicks(edit, "s")
    assert not picker.isVisible() and edit.toPlainText() == "/s"


def test_a_draft_changed_while_the_form_was_open_is_not_cut(
    qtbot: QtBot, window: MainWindow
) -> None:
    edit = window.composer.edit
    qtbot.keyClicks(edit, "/transl")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    dialog = window.findChild(PromptVariablesDialog, "promptVariables")
    assert dialog is not None
    window.composer.set_text("a whole new draft")  # e.g. restored by a script meanwhile
    with qtbot.waitSignal(dialog.finished):
        dialog.accept()
    assert edit.toPlainText() == "a whole new draftTranslate into French: "
