"""File > Export all chats…: the dialog lists and picks chats, the archive is written in
the background with progress and Cancel, and a notice tells the result."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.store.migrate import Store
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.transfer.export_dialog import ExportChatsDialog
from tests.ui.conftest import add_messages

MakeWindow = Callable[[], MainWindow]


def _open_dialog(qtbot: QtBot, window: MainWindow, chats: int) -> ExportChatsDialog:
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    assert isinstance(file_menu, QMenu)
    action = next(a for a in file_menu.actions() if a.text() == "Export &all chats…")
    action.trigger()
    dialog = window.findChild(ExportChatsDialog, "exportChatsDialog")
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.chat_list.count() == chats)  # listed in the background
    return dialog


def _answer_save_dialog(window: MainWindow, path: Path, asked: list[bool]) -> None:
    def choose(as_zip: bool) -> str:
        asked.append(as_zip)
        return str(path)

    window.chat_actions.export_all.choose_archive_path = choose  # type: ignore[method-assign]


def test_the_dialog_picks_chats_and_writes_them_as_a_zip(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    for title in ("Alpha trip", "Beta notes", "Alpha plans"):
        chat = ui_services.threads.create(me, title)
        ui_services.messages.send(me, chat.id, f"about {title}", triggers_execution=False)
    window = make_window()
    dialog = _open_dialog(qtbot, window, 3)
    assert dialog.chosen() == [t.id for t in ui_services.threads.list(me)]  # all checked
    assert dialog.count_label.text() == "3 of 3 chats, 3 messages"
    assert dialog.as_zip.isChecked()

    qtbot.keyClicks(dialog.filter_edit, "beta")
    dialog.select_none_button.click()  # what the filter shows: Beta
    qtbot.keyClicks(dialog.filter_edit, "x")  # "betax": nothing shown
    dialog.filter_edit.clear()
    assert dialog.count_label.text() == "2 of 3 chats, 2 messages"
    dialog.select_none_button.click()
    assert not dialog.start_button.isEnabled()  # nothing to export
    qtbot.keyClicks(dialog.filter_edit, "alpha")
    dialog.select_all_button.click()
    dialog.filter_edit.clear()
    assert dialog.count_label.text() == "2 of 3 chats, 2 messages"

    asked: list[bool] = []
    _answer_save_dialog(window, tmp_path / "mine", asked)  # ".zip" is added
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    export = window.chat_actions.export_all
    assert export.task is not None
    qtbot.waitUntil(lambda: export.task is None, timeout=30_000)
    assert asked == [True]
    assert not dialog.isVisible()
    assert window.toast.label.text() == "Exported 2 chats (2 messages) to mine.zip"
    with zipfile.ZipFile(tmp_path / "mine.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert sorted(chat["title"] for chat in manifest["chats"]) == ["Alpha plans", "Alpha trip"]


def test_a_big_export_runs_beside_the_window_and_cancel_leaves_nothing(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    ui_store: Store,
    me: int,
    tmp_path: Path,
) -> None:
    for n in range(2):
        chat = ui_services.threads.create(me, f"Long {n}")
        add_messages(ui_store, chat.id, me, 10_000)
    window = make_window()
    dialog = _open_dialog(qtbot, window, 2)
    dialog.as_folder.setChecked(True)
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    asked: list[bool] = []
    _answer_save_dialog(window, tmp_path / "folder", asked)
    dialog.start_button.click()
    export = window.chat_actions.export_all
    qtbot.waitUntil(lambda: export.task is None, timeout=60_000)
    timer.stop()
    assert asked == [False] and len(ticks) >= 3  # the event loop went on meanwhile
    assert window.toast.label.text() == "Exported 2 chats (20,000 messages) to folder"
    assert len(list((tmp_path / "folder" / "chats").iterdir())) == 4

    dialog = _open_dialog(qtbot, window, 2)
    before = sorted(p.name for p in tmp_path.iterdir())
    progress: list[str] = []
    dialog.bar.valueChanged.connect(lambda _v: progress.append(dialog.status.text()))
    _answer_save_dialog(window, tmp_path / "stopped.zip", asked)
    dialog.start_button.click()
    assert dialog.start_button.text() == "Cancel"
    qtbot.waitUntil(lambda: any(p.startswith("Chat 1 of 2: Long ") for p in progress))
    dialog.start_button.click()  # Cancel
    qtbot.waitUntil(lambda: export.task is None, timeout=60_000)
    assert window.toast.label.text() == "Export cancelled; nothing was written."
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .zip, no part of one
