"""The bar above the chat (title, crew, model, system prompt) and the no-model empty state."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton
from pytestqt.qtbot import QtBot

from chatdesk.runs.providers import ProbeTarget
from chatdesk.services import Services
from chatdesk.testkit.fake_openai import running_server
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.setup import local_probe
from chatdesk.ui.setup.provider_setup import NONE_FOUND
from chatdesk.ui.threads.thread_header import OTHER_MODEL

MakeWindow = Callable[[], MainWindow]


def _configure(model: str = "openai/gpt-4o-mini", provider: str = "openai") -> None:
    settings = UiSettings()
    settings.provider = provider
    settings.model = model
    settings.sync()


def _pick(qtbot: QtBot, combo: QComboBox, data: str) -> None:
    """Choose an entry with the keyboard, as a person would (this emits ``activated``)."""
    target = combo.findData(data)
    assert target >= 0, f"{data!r} is not offered"
    combo.setFocus()
    while combo.currentIndex() != target:
        key = Qt.Key.Key_Down if combo.currentIndex() < target else Qt.Key.Key_Up
        qtbot.keyClick(combo, key)


@pytest.fixture
def no_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe nothing real: the machine's own servers must not leak into a test."""
    monkeypatch.setattr(local_probe, "PROBE_TARGETS", ())


@pytest.mark.usefixtures("no_local_servers")
def test_header_shows_the_open_thread_and_edits_crew_and_model(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    _configure()
    thread = ui_services.threads.create(me, "Trip to Lisbon")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    header = window.header
    assert header.isVisible() and header.objectName() == "threadHeader"
    assert header.title_label.text() == "Trip to Lisbon"
    assert header.crew_combo.currentData() == "assistant"
    assert header.model_combo.currentData() == ""
    assert header.model_combo.currentText() == "Default (openai/gpt-4o-mini)"
    assert header.crew_combo.accessibleName() and header.model_combo.accessibleName()

    _pick(qtbot, header.crew_combo, "research-writer")
    assert ui_services.threads.get(me, thread.id).crew == "research-writer"
    _pick(qtbot, header.model_combo, "openai/gpt-4o")
    assert ui_services.threads.get(me, thread.id).model == "openai/gpt-4o"

    window.close()
    reopened = make_window()  # survives reopening (the last thread opens again)
    assert reopened.current_thread_id == thread.id
    assert reopened.header.crew_combo.currentData() == "research-writer"
    assert reopened.header.model_combo.currentText() == "openai/gpt-4o"
    _pick(qtbot, reopened.header.model_combo, "")  # back to following Settings
    assert ui_services.threads.get(me, thread.id).model is None


@pytest.mark.usefixtures("no_local_servers")
def test_header_follows_changes_made_elsewhere(
    make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Before")
    other = ui_services.threads.create(me, "Another chat")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    ui_services.threads.update(me, thread.id, title="After", crew="research-writer")
    ui_services.threads.update(me, other.id, title="Not shown here")
    assert window.header.title_label.text() == "After"
    assert window.header.crew_combo.currentData() == "research-writer"
    ui_services.threads.update(me, thread.id, model="ollama/qwen2.5")
    assert window.header.model_combo.currentText() == "ollama/qwen2.5"
    assert window.header.model_combo.currentText() != "Not shown here"
    window.on_thread_selected(0)
    assert not window.header.isVisible()  # no thread open, nothing to describe


@pytest.mark.usefixtures("no_local_servers")
def test_other_model_and_system_prompt_go_through_small_dialogs(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = ui_services.threads.create(me, "Prompted")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    header = window.header
    from chatdesk.ui.threads import thread_header

    monkeypatch.setattr(
        thread_header.QInputDialog, "getText", lambda *_a, **_k: ("  anthropic/claude-x ", True)
    )
    _pick(qtbot, header.model_combo, OTHER_MODEL)
    assert ui_services.threads.get(me, thread.id).model == "anthropic/claude-x"
    assert header.model_combo.currentText() == "anthropic/claude-x"

    monkeypatch.setattr(
        thread_header.QInputDialog, "getMultiLineText", lambda *_a, **_k: ("Be brief.", True)
    )
    label = header.prompt_button.text()  # "Prompt" when the header is narrow
    assert label in ("System prompt", "Prompt")
    qtbot.mouseClick(header.prompt_button, Qt.MouseButton.LeftButton)
    assert ui_services.threads.get(me, thread.id).system_prompt == "Be brief."
    assert header.prompt_button.text() == f"{label} ✓"
    assert header.prompt_button.property("active") is True
    assert "Be brief." in header.prompt_button.toolTip()

    monkeypatch.setattr(
        thread_header.QInputDialog, "getMultiLineText", lambda *_a, **_k: ("x" * 40_000, True)
    )
    with qtbot.waitSignal(header.error) as error:
        qtbot.mouseClick(header.prompt_button, Qt.MouseButton.LeftButton)
    assert "at most" in str(error.args[0])
    assert ui_services.threads.get(me, thread.id).system_prompt == "Be brief."


def test_without_a_model_the_empty_chat_explains_and_lists_a_local_server(
    qtbot: QtBot, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_server(models=["llama3.2:latest", "qwen2.5"]) as server:
        monkeypatch.setattr(
            local_probe,
            "PROBE_TARGETS",
            (ProbeTarget("ollama", "Ollama", server.port, "/api/tags"),),
        )
        window = make_window()
        card = window.setup_card
        assert card.isVisible() and card.objectName() == "providerSetup"
        assert window.empty_hint.isVisible()  # the window still opens and browses
        qtbot.waitUntil(lambda: bool(card.servers), timeout=5000)
    labels = [label.text() for label in card.findChildren(QLabel, "localServerLabel")]
    assert labels == ["Ollama — llama3.2:latest, qwen2.5"]
    use = card.findChild(QPushButton, "useServerButton")
    assert isinstance(use, QPushButton) and use.accessibleName() == "Use Ollama"

    qtbot.mouseClick(use, Qt.MouseButton.LeftButton)
    settings = UiSettings()
    assert (settings.provider, settings.model) == ("ollama", "ollama/llama3.2:latest")
    assert settings.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert not card.isVisible()


def test_the_setup_card_says_when_nothing_runs_locally_and_opens_settings(
    qtbot: QtBot, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refused at once
        port = closed.getsockname()[1]
        monkeypatch.setattr(
            local_probe, "PROBE_TARGETS", (ProbeTarget("ollama", "Ollama", port, "/api/tags"),)
        )
        window = make_window()
        card = window.setup_card
        qtbot.waitUntil(lambda: card.status.text() == NONE_FOUND, timeout=5000)
    assert card.servers == []
    button = card.findChild(QPushButton, "openSettingsButton")
    assert isinstance(button, QPushButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(QComboBox, "providerCombo")
    assert isinstance(dialog, QComboBox)
    qtbot.waitUntil(dialog.isVisible)
    dialog.window().close()


@pytest.mark.usefixtures("no_local_servers")
def test_a_configured_model_shows_no_setup_card_and_new_chats_take_the_default_crew(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    _configure("ollama/llama3.2", "ollama")
    settings = UiSettings()
    settings.default_crew = "research-writer"
    settings.sync()
    window = make_window()
    assert not window.setup_card.isVisible()
    assert window.empty_hint.isVisible()
    qtbot.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
    (thread,) = ui_services.threads.list(me)
    assert thread.crew == "research-writer"
    assert window.header.crew_combo.currentData() == "research-writer"


def test_environment_model_counts_as_configured(
    make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDESK_LLM_MODEL", "ollama/llama3.2")
    window = make_window()
    assert not window.setup_card.isVisible()
    assert window.probe.servers is None and not window.probe.is_running()  # nobody asked
