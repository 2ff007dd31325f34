"""The Settings dialog: what it saves, where the API key goes, and what the app does with it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp, _settings_resolver
from chatdesk.config import SETTINGS_FILE_NAME, data_dir
from chatdesk.engine.client import WorkerClient
from chatdesk.engine.crews import list_crews
from chatdesk.runs.coordinator import NO_MODEL_ERROR
from chatdesk.runs.model_settings import read_model_settings
from chatdesk.secrets import API_KEY_ENV, NO_BACKEND_MESSAGE, SERVICE_NAME
from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.setup.settings_dialog import SettingsDialog
from chatdesk.ui.theme import ThemeMode
from chatdesk.vocabulary import MessageStatus, Role
from tests.support.keyrings import MemoryKeyring, memory_keyring, no_keyring

__all__ = ["memory_keyring", "no_keyring"]  # fixtures used below

SECRET = "sk-test-Zq8v-NEVER-IN-A-FILE-41"
MakeWindow = Callable[[], MainWindow]


@pytest.fixture
def open_dialog(qtbot: QtBot) -> Iterator[Callable[[], SettingsDialog]]:
    """Shown Settings dialogs over the test's data dir (no probe: nothing local is asked)."""
    dialogs: list[SettingsDialog] = []

    def make() -> SettingsDialog:
        dialog = SettingsDialog(UiSettings(), list_crews(data_dir()))
        qtbot.addWidget(dialog)
        with qtbot.waitActive(dialog):
            dialog.show()
            dialog.activateWindow()
        dialogs.append(dialog)
        return dialog

    yield make
    for dialog in dialogs:
        dialog.close()


def _fill(qtbot: QtBot, dialog: SettingsDialog, **fields: str) -> None:
    """Type into the fields the way a person would (keyboard, not setters)."""
    if "provider" in fields:
        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(fields["provider"]))
    for name, widget in (
        ("model", dialog.model_combo.lineEdit()),
        ("base_url", dialog.base_url_edit),
        ("api_key", dialog.api_key_edit),
    ):
        if name in fields:
            assert widget is not None
            widget.selectAll()
            qtbot.keyClick(widget, Qt.Key.Key_Delete)
            qtbot.keyClicks(widget, fields[name])


def _save(qtbot: QtBot, dialog: SettingsDialog) -> None:
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_saved_settings_come_back_in_the_dialog_and_in_model_settings(
    qtbot: QtBot, open_dialog: Callable[[], SettingsDialog], memory_keyring: MemoryKeyring
) -> None:
    dialog = open_dialog()
    assert dialog.objectName() == "settingsDialog"
    _fill(qtbot, dialog, provider="openai", model="gpt-4o-mini", base_url="https://api.example/v1")
    assert dialog.model_preview.text() == "Replies will use openai/gpt-4o-mini."
    assert dialog.vision_combo.currentData() == "auto"
    dialog.vision_combo.setCurrentIndex(dialog.vision_combo.findData("text"))
    dialog.crew_combo.setCurrentIndex(dialog.crew_combo.findData("research-writer"))
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.font_spin.setValue(15)
    assert dialog.titles_check.isChecked()  # on until the person turns it off
    dialog.titles_check.setChecked(False)
    with qtbot.waitSignal(dialog.saved):
        _save(qtbot, dialog)
    assert not dialog.isVisible()

    assert dict(read_model_settings()) == {
        "provider": "openai",
        "model": "openai/gpt-4o-mini",
        "base_url": "https://api.example/v1",
        "timeout_s": None,
        "max_tokens": None,
        "vision": "text",  # told the names of attached images, not sent them
        "titles": False,
    }
    again = UiSettings()
    assert (again.default_crew, again.theme, again.font_size) == (
        "research-writer",
        ThemeMode.DARK,
        15,
    )
    reopened = open_dialog()
    assert reopened.provider_combo.currentData() == "openai"
    assert reopened.model_combo.currentText() == "gpt-4o-mini"
    assert reopened.base_url_edit.text() == "https://api.example/v1"
    assert reopened.vision_combo.currentData() == "text"
    assert reopened.crew_combo.currentData() == "research-writer"
    assert reopened.theme_combo.currentData() == "dark"
    assert reopened.font_spin.value() == 15
    assert not reopened.titles_check.isChecked()


def test_the_apps_resolver_uses_the_saved_settings_and_key(
    qtbot: QtBot,
    open_dialog: Callable[[], SettingsDialog],
    memory_keyring: MemoryKeyring,
    ui_services: Services,
    me: int,
) -> None:
    resolve = _settings_resolver()
    thread = ui_services.threads.create(me)
    assert resolve(thread) is None  # nothing configured: no model, the run says so
    dialog = open_dialog()
    _fill(qtbot, dialog, provider="anthropic", model="claude-3-5-haiku-latest", api_key=SECRET)
    _save(qtbot, dialog)
    config = resolve(thread)
    assert config is not None
    assert config.model == "anthropic/claude-3-5-haiku-latest"
    assert config.api_key == SECRET and config.base_url is None
    # A thread's own model of the same provider keeps the endpoint and key.
    other = ui_services.threads.update(me, thread.id, model="anthropic/claude-3-5-sonnet-latest")
    config = resolve(other)
    assert config is not None and config.api_key == SECRET
    # Another provider's model gets neither.
    foreign = ui_services.threads.update(me, thread.id, model="ollama/llama3.2")
    config = resolve(foreign)
    assert config is not None and config.api_key is None and config.base_url is None


def test_a_local_server_never_gets_a_cloud_key(
    qtbot: QtBot,
    open_dialog: Callable[[], SettingsDialog],
    memory_keyring: MemoryKeyring,
    ui_services: Services,
    me: int,
) -> None:
    dialog = open_dialog()
    _fill(qtbot, dialog, provider="openai", model="gpt-4o", api_key=SECRET)
    _save(qtbot, dialog)
    dialog = open_dialog()
    _fill(qtbot, dialog, provider="lmstudio", model="qwen2.5-7b-instruct")
    assert not dialog.api_key_edit.isEnabled()
    _save(qtbot, dialog)
    settings = read_model_settings()
    assert settings["model"] == "openai/qwen2.5-7b-instruct"
    assert settings["base_url"] == "http://127.0.0.1:1234/v1"  # not api.openai.com
    config = _settings_resolver()(ui_services.threads.create(me))
    assert config is not None and config.base_url == "http://127.0.0.1:1234/v1"
    assert config.api_key != SECRET


def test_the_api_key_goes_to_the_keyring_and_into_no_file(
    qtbot: QtBot,
    open_dialog: Callable[[], SettingsDialog],
    memory_keyring: MemoryKeyring,
    make_window: MakeWindow,
) -> None:
    window = make_window()  # a real window also writes its files into the data dir
    dialog = open_dialog()
    _fill(qtbot, dialog, provider="openai", model="gpt-4o-mini", api_key=SECRET)
    _save(qtbot, dialog)
    assert memory_keyring.passwords == {(SERVICE_NAME, "api-key:openai"): SECRET}
    window.close()
    UiSettings().sync()
    files = [p for p in data_dir().rglob("*") if p.is_file()]
    assert any(p.name == SETTINGS_FILE_NAME for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path

    reopened = open_dialog()
    assert reopened.api_key_edit.text() == ""  # never shown back
    assert "keyring" in reopened.api_key_edit.placeholderText()
    assert reopened.forget_key_button.isEnabled()
    qtbot.mouseClick(reopened.forget_key_button, Qt.MouseButton.LeftButton)
    assert memory_keyring.passwords == {}
    assert not reopened.forget_key_button.isEnabled()


@pytest.mark.usefixtures("no_keyring")
def test_without_a_keyring_the_key_field_is_disabled_and_says_why(
    qtbot: QtBot, open_dialog: Callable[[], SettingsDialog]
) -> None:
    dialog = open_dialog()
    _fill(qtbot, dialog, provider="openai", model="gpt-4o-mini")
    assert not dialog.api_key_edit.isEnabled()
    assert dialog.api_key_message.isVisible()
    assert dialog.api_key_message.text() == NO_BACKEND_MESSAGE
    assert API_KEY_ENV in dialog.api_key_message.text()
    _save(qtbot, dialog)  # everything else still saves
    assert read_model_settings()["model"] == "openai/gpt-4o-mini"


def test_a_base_url_must_be_http_and_a_bad_one_saves_nothing(
    qtbot: QtBot, open_dialog: Callable[[], SettingsDialog], memory_keyring: MemoryKeyring
) -> None:
    dialog = open_dialog()
    _fill(qtbot, dialog, provider="openai-compatible", model="mistral", base_url="ftp://x/v1")
    _save(qtbot, dialog)
    assert dialog.isVisible()
    assert dialog.error_label.isVisible() and "http" in dialog.error_label.text()
    assert dialog.focusWidget() is dialog.base_url_edit
    assert read_model_settings()["model"] == ""
    _fill(qtbot, dialog, base_url="")
    _save(qtbot, dialog)
    assert dialog.isVisible() and "needs a base URL" in dialog.error_label.text()
    _fill(qtbot, dialog, base_url="http://10.0.0.5:8000/v1")
    assert not dialog.error_label.isVisible()  # the message goes once the URL is fine
    _save(qtbot, dialog)
    assert not dialog.isVisible()
    assert read_model_settings()["base_url"] == "http://10.0.0.5:8000/v1"


def test_fields_have_names_and_a_sensible_tab_order(
    qtbot: QtBot, open_dialog: Callable[[], SettingsDialog], memory_keyring: MemoryKeyring
) -> None:
    dialog = open_dialog()
    fields = [
        dialog.provider_combo,
        dialog.model_combo,
        dialog.base_url_edit,
        dialog.api_key_edit,
        dialog.forget_key_button,
        dialog.vision_combo,
        dialog.crew_combo,
        dialog.titles_check,
        dialog.theme_combo,
        dialog.font_spin,
    ]
    assert all(field.accessibleName() for field in fields)
    dialog.provider_combo.setFocus()
    visited: list[QWidget] = []
    for _ in range(len(fields) + 3):
        widget = dialog.focusWidget()
        widget = dialog.model_combo if widget is dialog.model_combo.lineEdit() else widget
        if widget in fields and widget not in visited:
            visited.append(widget)
        qtbot.keyClick(widget, Qt.Key.Key_Tab)
    reachable = [f for f in fields if f.isEnabled()]  # no key saved: nothing to remove
    assert visited == reachable


def test_ctrl_comma_opens_settings_and_saving_applies_theme_and_font_at_once(
    qtbot: QtBot, make_window: MakeWindow, memory_keyring: MemoryKeyring
) -> None:
    window = make_window()
    assert window.setup_card.isVisible()  # no model yet
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(SettingsDialog, "settingsDialog")
    assert isinstance(dialog, SettingsDialog)
    qtbot.waitUntil(dialog.isVisible)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.font_spin.setValue(17)
    _fill(qtbot, dialog, provider="ollama", model="llama3.2")
    _save(qtbot, dialog)
    assert window.theme.mode is ThemeMode.DARK and window.theme.colors.dark
    assert window.theme_actions[ThemeMode.DARK].isChecked()
    assert window.message_view.font().pointSize() == 17
    assert window.composer.edit.font().pointSize() == 17
    assert not window.setup_card.isVisible()  # a model is configured now
    file_menu = window.menuBar().actions()[0].menu()
    assert window.settings_action in file_menu.actions()
    assert window.settings_action.shortcut().toString() == "Ctrl+,"


def test_without_a_model_a_reply_fails_with_a_clear_message_then_settings_fix_it(
    qtbot: QtBot,
    tmp_path: Path,
    chatdesk_loop: object,
    chatdesk_worker: WorkerClient,
) -> None:
    """The real app with the real settings resolver: no model, then the scripted one."""
    directory = data_dir()
    app = ChatdeskApp(
        open_store(f"sqlite:///{tmp_path / 'app.db'}"), directory, worker=chatdesk_worker
    )
    qtbot.addWidget(app.window)
    try:
        app.show()
        window = app.window
        window.composer.edit.setFocus()
        qtbot.keyClicks(window.composer.edit, "Hello?")
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)

        def reply() -> tuple[MessageStatus | None, str]:
            model = window.message_model
            index = model.index(model.rowCount() - 1)
            record = index.data(MessageRoles.Record)
            if record is None or record.role is not Role.ASSISTANT:
                return None, ""
            return record.status, str(index.data(MessageRoles.Error) or "")

        qtbot.waitUntil(lambda: reply()[0] is MessageStatus.FAILED, timeout=10_000)
        assert reply()[1] == NO_MODEL_ERROR
        assert "Settings" in NO_MODEL_ERROR

        settings = UiSettings()
        settings.model = "scripted"  # the scripted model, chosen through settings
        settings.sync()
        retry_target = window.message_model.index(1).data(MessageRoles.RetryTarget)
        assert isinstance(retry_target, int)
        window.on_retry(retry_target)
        qtbot.waitUntil(lambda: reply()[0] is MessageStatus.COMPLETED, timeout=30_000)
    finally:
        app.close()


def test_the_settings_ui_never_loads_crewai() -> None:
    """Settings, header and probe live in the GUI process, which must stay CrewAI-free."""
    code = (
        "import chatdesk.app, chatdesk.ui.main_window, chatdesk.ui.setup.settings_dialog, sys; "
        "import chatdesk.ui.threads.thread_header, chatdesk.ui.setup.provider_setup; "
        "bad = sorted(m for m in sys.modules if m.startswith('crewai')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
