"""Model pickers list what the server offers: in Settings for the form's server (with
Refresh and a clear reason when it cannot), in the chat header for the default server.
Real HTTP servers on 127.0.0.1; nothing else is asked."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from chatdesk.config import data_dir
from chatdesk.engine.crews import list_crews
from chatdesk.testkit.fake_openai import FakeOpenAIServer, running_server
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.setup import local_probe
from chatdesk.ui.setup.settings_dialog import SettingsDialog
from tests.support.keyrings import memory_keyring

__all__ = ["memory_keyring"]

MODELS = ["qwen2.5-7b-instruct", "llama-3.2-3b-instruct"]


@pytest.fixture(autouse=True)
def _no_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_probe, "PROBE_TARGETS", ())


@pytest.fixture
def lmstudio() -> Iterator[FakeOpenAIServer]:
    with running_server(models=list(MODELS)) as server:
        yield server


def _configure(server: FakeOpenAIServer) -> None:
    settings = UiSettings()
    settings.provider = "openai-compatible"
    settings.model = "openai/qwen2.5-7b-instruct"
    settings.base_url = server.base_url
    settings.sync()


def _items(combo: object) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]  # type: ignore[attr-defined]


@pytest.fixture
def dialog(qtbot: QtBot) -> Callable[[], SettingsDialog]:
    def make() -> SettingsDialog:
        shown = SettingsDialog(UiSettings(), list_crews(data_dir()))
        qtbot.addWidget(shown)
        shown.show()
        return shown

    return make


@pytest.mark.usefixtures("memory_keyring")
def test_settings_list_the_servers_models_and_refresh_asks_again(
    qtbot: QtBot, dialog: Callable[[], SettingsDialog], lmstudio: FakeOpenAIServer
) -> None:
    _configure(lmstudio)
    shown = dialog()
    qtbot.waitUntil(lambda: "2 models on this server" in shown.model_list_status.text())
    assert _items(shown.model_combo)[:2] == ["llama-3.2-3b-instruct", "qwen2.5-7b-instruct"]
    assert shown.model_combo.currentText() == "qwen2.5-7b-instruct"  # what was saved stays

    lmstudio.models.append("phi-4")
    qtbot.mouseClick(shown.refresh_models_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "3 models on this server" in shown.model_list_status.text())
    assert "phi-4" in _items(shown.model_combo)


@pytest.mark.usefixtures("memory_keyring")
def test_a_server_that_is_not_running_is_named_and_typing_still_works(
    qtbot: QtBot, dialog: Callable[[], SettingsDialog]
) -> None:
    with running_server() as gone:
        _configure(gone)
    shown = dialog()
    qtbot.waitUntil(lambda: "is the server running?" in shown.model_list_status.text())
    assert "You can still type the model name." in shown.model_list_status.text()
    assert shown.refresh_models_button.isEnabled()


@pytest.mark.usefixtures("memory_keyring")
def test_a_cloud_provider_without_a_key_is_not_asked(
    qtbot: QtBot, dialog: Callable[[], SettingsDialog]
) -> None:
    shown = dialog()
    shown.provider_combo.setCurrentIndex(shown.provider_combo.findData("anthropic"))
    assert shown.model_list_status.text() == (
        "Enter the API key to list the models Anthropic offers."
    )
    assert not shown.model_lister.is_running()


def test_settings_say_when_the_environment_overrides_them(
    qtbot: QtBot, dialog: Callable[[], SettingsDialog], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDESK_LLM_BASE_URL", "http://user:hunter2secret@127.0.0.1:9999/v1")
    shown = dialog()
    note = shown.env_note.text()
    assert shown.env_note.isVisible()
    assert "CHATDESK_LLM_BASE_URL=http://user:[redacted]@127.0.0.1:9999/v1" in note
    assert "hunter2secret" not in note


@pytest.mark.usefixtures("memory_keyring")
def test_the_chat_header_offers_the_default_servers_models(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: object,
    me: int,
    lmstudio: FakeOpenAIServer,
) -> None:
    _configure(lmstudio)
    thread = ui_services.threads.create(me, "Models")  # type: ignore[attr-defined]
    window = make_window()
    window.sidebar.select_thread(thread.id)
    combo = window.header.model_combo
    assert "openai/llama-3.2-3b-instruct" not in _items(combo)  # not asked yet
    combo.showPopup()  # opening the list asks the server
    qtbot.waitUntil(lambda: "openai/llama-3.2-3b-instruct" in _items(combo))
    combo.hidePopup()
    assert _items(combo)[0] == "Default (openai/qwen2.5-7b-instruct)"
    assert [r.path for r in lmstudio.requests].count("/v1/models") == 1
    combo.showPopup()  # fresh for a while: not asked again
    combo.hidePopup()
    qtbot.wait(200)
    assert [r.path for r in lmstudio.requests].count("/v1/models") == 1
