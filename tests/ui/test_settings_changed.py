"""``UiSettings.changed``: each preference that takes a new value says so once, by key,
and the window follows it wherever it was set (issue 14 item 4)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from chatdesk import preferences as pref
from chatdesk.config import data_dir
from chatdesk.runs.crew_choice import list_crews
from chatdesk.runs.providers import LocalServer
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.setup.settings_dialog import SettingsDialog
from chatdesk.ui.theme import ThemeMode

MakeWindow = Callable[[], MainWindow]
OLLAMA = LocalServer("ollama", "Ollama", "http://127.0.0.1:11434/v1", ("llama3.2", "qwen3"))


def _heard(settings: UiSettings) -> list[str]:
    keys: list[str] = []
    settings.changed.connect(keys.append)
    return keys


def test_a_changed_value_says_its_key_once_and_an_unchanged_one_nothing(tmp_path: Path) -> None:
    settings = UiSettings(tmp_path / "ui.ini")
    heard = _heard(settings)
    settings.theme = ThemeMode.DARK
    settings.font_size = 14
    settings.model = "ollama/llama3.2"
    settings.last_thread_id = 7
    assert heard == [pref.THEME.key, pref.FONT_SIZE.key, pref.MODEL.key, pref.LAST_THREAD_ID.key]

    heard.clear()
    settings.theme = ThemeMode.DARK
    settings.font_size = 14
    settings.model = "  ollama/llama3.2 "  # stored trimmed: the same value
    settings.last_thread_id = 7
    settings.default_crew = "assistant"  # unset until now, but that is its default
    settings.base_url = "   "  # blank removes the key, which was not there
    assert heard == []

    settings.model = None  # removed: back to the default, which is a change
    settings.theme = ThemeMode.SYSTEM
    assert heard == [pref.MODEL.key, pref.THEME.key]
    again = UiSettings(tmp_path / "ui.ini")  # what was said is what is stored
    assert (again.model, again.theme, again.font_size) == ("", ThemeMode.SYSTEM, 14)


def test_using_a_local_server_says_each_model_key_it_changed_once(tmp_path: Path) -> None:
    settings = UiSettings(tmp_path / "ui.ini")
    heard = _heard(settings)
    settings.use_local_server(OLLAMA)
    assert Counter(heard) == Counter([pref.PROVIDER.key, pref.MODEL.key, pref.BASE_URL.key])
    heard.clear()
    settings.use_local_server(OLLAMA)
    assert heard == []
    settings.use_local_server(OLLAMA, "qwen3")  # the same server, another model
    assert heard == [pref.MODEL.key]


def test_saving_the_settings_dialog_says_only_what_changed(qtbot: QtBot) -> None:
    settings = UiSettings()
    dialog = SettingsDialog(settings, list_crews(data_dir()))
    qtbot.addWidget(dialog)
    dialog.show()
    heard = _heard(settings)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.font_spin.setValue(15)
    with qtbot.waitSignal(dialog.saved):
        button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    counts = Counter(heard)
    assert counts[pref.THEME.key] == 1 and counts[pref.FONT_SIZE.key] == 1
    assert set(counts) <= {pref.THEME.key, pref.FONT_SIZE.key, *pref.MODEL_KEYS}
    assert max(counts.values()) == 1


def test_the_window_and_its_chat_header_follow_a_change_made_anywhere(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    settings = window.settings
    assert window.theme.mode is ThemeMode.SYSTEM
    try:
        settings.theme = ThemeMode.DARK  # as Settings, the View menu or a script does
        assert window.theme.mode is ThemeMode.DARK
        assert window.theme_actions[ThemeMode.DARK].isChecked()
        assert window.message_view.delegate.colors.dark

        settings.font_size = 17
        assert QApplication.font().pointSize() == 17

        assert window.setup_card.isVisibleTo(window.chat_pane)  # no model set up yet
        settings.model = "openai/gpt-4o-mini"
        assert window.header.model_combo.itemText(0) == "Default (openai/gpt-4o-mini)"
        assert not window.setup_card.isVisibleTo(window.chat_pane)
    finally:
        settings.font_size = 0  # the application font is shared by every test
        settings.theme = ThemeMode.SYSTEM
    assert QApplication.font().pointSize() != 17
    assert window.theme.mode is ThemeMode.SYSTEM
