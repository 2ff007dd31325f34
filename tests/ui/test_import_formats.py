"""Importing another app's export from the window: chats appear, notes show, no doubles."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.foreign.chat import Source
from chatdesk.ui.chat.chat_actions import IMPORT_FILTERS
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.main_window import MainWindow
from tests.services.foreign.helpers import EXPORTS
from tests.ui.test_chat_actions import _records

MakeWindow = Callable[[], MainWindow]
CHATGPT = EXPORTS / "chatgpt-conversations.json"


def _import(qtbot: QtBot, window: MainWindow, path: Path, source: Source | None = None) -> str:
    """Import ``path`` from the window; the notice it ends with."""
    assert window.chat_actions.import_chat(str(path), source) is not None
    qtbot.waitUntil(lambda: window.chat_actions.import_task is None, timeout=20_000)
    return window.toast.label.text()


def test_a_chatgpt_zip_imports_its_chats_and_leaves_the_open_chat_open(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    export = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(CHATGPT, "conversations.json")
    reading = ui_services.threads.create(me, "What I was reading")
    window = make_window()
    window.sidebar.select_thread(reading.id)
    said = _import(qtbot, window, export)
    assert said.startswith("Imported 3 chats from ChatGPT (")
    assert window.thread_model.rowCount() == 4
    assert window.current_thread_id == reading.id  # a history does not pull you away
    imported = next(t for t in ui_services.threads.list(me) if t.id != reading.id)
    window.sidebar.select_thread(imported.id)
    assert _records(window)  # its path is shown


def test_notes_and_the_model_show_on_imported_bubbles(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    window.resize(1000, 700)
    _import(qtbot, window, CHATGPT)
    view, model = window.message_view, window.message_model
    for thread in ui_services.threads.list(me):
        window.sidebar.select_thread(thread.id)
        for row in range(model.rowCount()):
            index = model.index(row)
            record = index.data(MessageRoles.Record)
            notes = record.metadata.get("notes")
            if notes:  # drawn under the text, and the bubble makes room for them
                layout = view.delegate._document(record, 600, view.font())
                assert layout is not None
                assert notes[0] in layout.doc.toPlainText()
                return
    raise AssertionError("the fixture has a message with notes")


def test_the_same_file_again_asks_and_imports_copies_only_when_asked(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    _import(qtbot, window, CHATGPT)
    asked: list[str] = []
    answers = [False, True]

    def confirm(text: str) -> bool:
        asked.append(text)
        return answers.pop(0)

    window.chat_actions.confirm_import_again = confirm  # type: ignore[method-assign]
    _import(qtbot, window, CHATGPT)
    qtbot.waitUntil(lambda: len(asked) == 1)
    assert "already here" in asked[0]
    assert ui_services.threads.count(me) == 3  # declined: nothing more
    _import(qtbot, window, CHATGPT)
    qtbot.waitUntil(lambda: len(asked) == 2)
    qtbot.waitUntil(lambda: ui_services.threads.count(me) == 6, timeout=20_000)
    qtbot.waitUntil(lambda: window.chat_actions.import_task is None, timeout=20_000)
    assert window.toast.label.text().startswith("Imported 3 chats from ChatGPT")


def test_the_file_type_picked_says_the_format(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    claude = next(name for name, source in IMPORT_FILTERS.items() if source is Source.CLAUDE)
    actions = window.chat_actions

    def choose() -> str:
        actions.import_source = IMPORT_FILTERS[claude]
        return str(CHATGPT)

    actions.choose_import_path = choose  # type: ignore[method-assign]
    assert actions.import_chat() is not None
    qtbot.waitUntil(lambda: actions.import_task is None, timeout=20_000)
    assert "so it is not a Claude conversation" in window.toast.label.text()
    assert ui_services.threads.count(me) == 0
