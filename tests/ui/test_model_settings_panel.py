"""A chat's model settings in the window: the header's button opens ``chatModelSettings``,
the keyboard sets each value, Reset goes back to the default, the reasoning effort shows
only for a model that has one, a locked database loses nothing, the Chat menu opens it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QLabel,
    QSpinBox,
    QToolButton,
)
from pytestqt.qtbot import QtBot

from chatdesk.model_params import ModelParams
from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow
from tests.support.faults import hold_exclusive_lock, sqlite_file

MakeWindow = Callable[[], MainWindow]


def _panel(window: MainWindow) -> QFrame:
    panel = window.findChild(QFrame, "chatModelSettings")
    assert panel is not None
    return panel


def _type(qtbot: QtBot, box: QSpinBox | QDoubleSpinBox, text: str) -> None:
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


def test_values_are_set_by_keyboard_saved_per_chat_and_reset(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    tuned = ui_services.threads.create(me, "Tuned", model="openai/gpt-oss-20b")
    plain = ui_services.threads.create(me, "Plain", model="openai/gpt-4o")
    window = make_window()
    window.sidebar.select_thread(tuned.id)
    button = window.header.model_settings_button
    assert button.objectName() == "modelSettingsButton" and button.text() == "Model settings"
    button.click()
    panel = _panel(window)
    qtbot.waitUntil(panel.isVisible)
    temperature = panel.findChild(QDoubleSpinBox, "temperatureSpin")
    top_p = panel.findChild(QDoubleSpinBox, "topPSpin")
    max_tokens = panel.findChild(QSpinBox, "maxTokensSpin")
    context = panel.findChild(QSpinBox, "contextBudgetSpin")
    effort = panel.findChild(QComboBox, "reasoningEffortCombo")
    assert temperature and top_p and max_tokens and context and effort
    qtbot.waitUntil(temperature.hasFocus)  # the keyboard starts in the panel
    assert context.text() == "Default (3,000)" and temperature.text() == "Default (1, openai)"
    assert top_p.text() == "Default (1, openai)"  # what the provider uses when none is sent
    assert effort.isVisible() and effort.currentText() == "Default"

    _type(qtbot, temperature, "0.7")
    reset_temperature = panel.findChild(QToolButton, "reset_temperature")
    temperature.setFocus()
    qtbot.keyClick(temperature, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is reset_temperature  # Tab: the box's Reset, then on
    qtbot.keyClick(reset_temperature, Qt.Key.Key_Tab)
    assert top_p.hasFocus()
    _type(qtbot, top_p, "0.9")
    max_tokens.setFocus()
    qtbot.keyClick(max_tokens, Qt.Key.Key_Up)  # one step from Default
    _type(qtbot, context, "1500")
    effort.setFocus()
    qtbot.keyClick(effort, Qt.Key.Key_Down)
    effort.activated.emit(effort.currentIndex())  # what choosing in the list does
    assert ui_services.chat_model_settings.get(me, tuned.id) == ModelParams(
        temperature=0.7, top_p=0.9, max_tokens=256, context_tokens=1500, reasoning_effort="low"
    )
    assert ui_services.chat_model_settings.get(me, plain.id) == ModelParams()
    assert button.text() == "Model settings ✓" and "top-p 0.9" in button.toolTip()

    reset = panel.findChild(QToolButton, "reset_max_tokens")
    assert reset is not None and reset.isEnabled()
    reset.click()
    assert ui_services.chat_model_settings.get(me, tuned.id).max_tokens is None
    assert max_tokens.text().startswith("Default") and not reset.isEnabled()

    qtbot.keyClick(panel, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not panel.isVisible())
    window.sidebar.select_thread(plain.id)  # gpt-4o: no reasoning effort to offer
    window.model_settings_action.trigger()  # the Chat menu's way in
    qtbot.waitUntil(panel.isVisible)
    assert temperature.text() == "Default (1, openai)" and not effort.isVisible()
    assert button.text() == "Model settings"
    ui_services.chat_model_settings.set(me, plain.id, ModelParams(top_p=0.5))  # elsewhere
    assert top_p.value() == 0.5 and button.text() == "Model settings ✓"
    panel.close()


def test_a_locked_database_says_so_and_the_next_change_saves_what_was_typed(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Locked", model="openai/gpt-4o")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    window.header.model_settings_button.click()
    panel = _panel(window)
    qtbot.waitUntil(panel.isVisible)
    temperature = panel.findChild(QDoubleSpinBox, "temperatureSpin")
    context = panel.findChild(QSpinBox, "contextBudgetSpin")
    failure = panel.findChild(QLabel, "modelSettingsError")
    assert temperature and context and failure
    with hold_exclusive_lock(sqlite_file(ui_services)):
        _type(qtbot, temperature, "1.2")
        assert failure.isVisible() and failure.text().startswith("Not saved:")
    assert temperature.value() == 1.2  # kept on screen
    assert ui_services.chat_model_settings.get(me, thread.id) == ModelParams()
    _type(qtbot, context, "800")
    assert not failure.isVisible()
    assert ui_services.chat_model_settings.get(me, thread.id) == ModelParams(
        temperature=1.2, context_tokens=800
    )
    panel.close()


def test_a_narrow_header_hides_the_button_and_the_menu_still_opens_the_panel(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "A chat with a long title to squeeze")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    window.resize(560, 600)
    qtbot.waitUntil(lambda: window.header.compact)
    assert not window.header.model_settings_button.isVisible()
    window.model_settings_action.trigger()
    panel = _panel(window)
    qtbot.waitUntil(panel.isVisible)
    geometry = panel.frameGeometry()
    assert window.screen().availableGeometry().contains(geometry)  # all of it on screen
    panel.close()
