"""Chat › Prompts…: add, edit, rename, delete (asked first), import and export, in the
real window over a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.setup.prompts_dialog import PromptsDialog


@pytest.fixture
def dialog(make_window: Callable[[], MainWindow], qtbot: QtBot) -> PromptsDialog:
    window = make_window()
    assert window.prompts_action.text() == "&Prompts…"
    window.prompts_action.trigger()
    found = window.findChild(PromptsDialog, "promptsDialog")
    assert found is not None
    qtbot.waitUntil(found.isVisible)
    return found


def _names(services: Services, me: int) -> dict[str, str]:
    return {p.name: p.text for p in services.prompts.list(me)}


def test_add_edit_rename_and_delete_after_a_confirmation(
    qtbot: QtBot, dialog: PromptsDialog, ui_services: Services, me: int
) -> None:
    assert dialog.empty.isVisible() and not dialog.save_button.isEnabled()
    dialog.new_button.click()
    qtbot.keyClicks(dialog.name, "Summary")
    qtbot.keyClicks(dialog.text, "Summarise {{text}} in a {{tone|calm}} tone")
    assert dialog.variables.text() == "Asks for: text, tone (default: calm)"
    dialog.save_button.click()
    assert _names(ui_services, me) == {"Summary": "Summarise {{text}} in a {{tone|calm}} tone"}
    assert dialog.names() == ["Summary"] and dialog.list.currentItem().text() == "Summary"

    dialog.name.setText("Brief")
    dialog.text.setPlainText("Brief: {{text}}")
    dialog.save_button.click()
    assert _names(ui_services, me) == {"Brief": "Brief: {{text}}"}
    assert dialog.status.text() == "Saved “Brief”."

    box = dialog.on_delete()
    assert isinstance(box, QMessageBox) and "“Brief”" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert _names(ui_services, me) == {"Brief": "Brief: {{text}}"}
    box = dialog.on_delete()
    assert box is not None
    delete = next(b for b in box.findChildren(QPushButton) if b.text() == "Delete")
    delete.click()
    assert _names(ui_services, me) == {}
    assert dialog.names() == [] and dialog.empty.isVisible()


def test_a_refused_save_says_why_and_keeps_the_text(
    qtbot: QtBot, dialog: PromptsDialog, ui_services: Services, me: int
) -> None:
    ui_services.prompts.create(me, "Summary", "one")
    dialog.reload()
    dialog.new_button.click()
    qtbot.keyClicks(dialog.name, "summary")
    qtbot.keyClicks(dialog.text, "two")
    dialog.save_button.click()
    assert dialog.error.isVisible()
    assert dialog.error.text() == "A prompt named “Summary” exists already."
    assert dialog.text.toPlainText() == "two"
    assert _names(ui_services, me) == {"Summary": "one"}


def test_the_filter_keeps_matching_names(
    dialog: PromptsDialog, ui_services: Services, me: int
) -> None:
    for name in ("Alpha", "Beta", "Gamma"):
        ui_services.prompts.create(me, name, f"{name} text")
    dialog.reload()
    dialog.filter.setText("ta")
    assert dialog.names() == ["Beta"]
    dialog.filter.clear()
    assert dialog.names() == ["Alpha", "Beta", "Gamma"]


def test_export_then_import_reports_added_skipped_and_refused(
    dialog: PromptsDialog, ui_services: Services, me: int, tmp_path: Path
) -> None:
    ui_services.prompts.create(me, "Summary", "Summarise {{text}}")
    dialog.reload()
    exported = tmp_path / "mine.json"
    assert dialog.export_file(exported)
    assert json.loads(exported.read_text(encoding="utf-8"))["prompts"] == [
        {"name": "Summary", "text": "Summarise {{text}}"}
    ]
    incoming = tmp_path / "shared.json"
    incoming.write_text(
        json.dumps(
            {
                "format": "chatdesk-prompts",
                "version": 1,
                "prompts": [
                    {"name": "summary", "text": "theirs"},
                    {"name": "Haiku", "text": "A haiku about {{topic}}"},
                    {"name": "Blank", "text": "  "},
                ],
            }
        ),
        encoding="utf-8",
    )
    outcome = dialog.import_file(incoming)
    assert outcome is not None
    assert dialog.status.text() == (
        "From shared.json: 1 added, 1 skipped (a prompt of that name exists: “summary”), "
        "1 refused (“Blank”: A prompt needs some text.)."
    )
    assert dialog.names() == ["Haiku", "Summary"]


def test_a_broken_file_imports_nothing_and_names_the_place(
    dialog: PromptsDialog, ui_services: Services, me: int, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"format": "chatdesk-prompts", "version": 1, "prompts": '
        '[{"name": "fine", "text": "ok"}, {"name": "bad", "text": 7}]}',
        encoding="utf-8",
    )
    assert dialog.import_file(broken) is None
    assert dialog.status.text() == (
        "Nothing imported from broken.json: prompts[1].text: expected text, found a number"
    )
    assert _names(ui_services, me) == {}


def _answer_next_question(button: QMessageBox.StandardButton) -> list[str]:
    """Press ``button`` on the next modal question as soon as it shows; its text is kept."""
    asked: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, answer)
            return
        asked.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, answer)
    return asked


@pytest.mark.parametrize(
    ("answer", "stays_on", "stored"),
    [
        (QMessageBox.StandardButton.Save, "Beta", "changed"),
        (QMessageBox.StandardButton.Discard, "Beta", "alpha"),
        (QMessageBox.StandardButton.Cancel, "Alpha", "alpha"),
    ],
)
def test_leaving_unsaved_changes_asks_first(
    dialog: PromptsDialog,
    ui_services: Services,
    me: int,
    answer: QMessageBox.StandardButton,
    stays_on: str,
    stored: str,
) -> None:
    ui_services.prompts.create(me, "Alpha", "alpha")
    ui_services.prompts.create(me, "Beta", "beta")
    dialog.reload()
    dialog.select("Alpha")
    dialog.text.setPlainText("changed")
    asked = _answer_next_question(answer)
    dialog.select("Beta")
    assert asked == ["Save the changes to this prompt first?"]
    assert dialog.list.currentItem().text() == stays_on
    assert dialog.name.text() == stays_on
    assert _names(ui_services, me)["Alpha"] == stored
