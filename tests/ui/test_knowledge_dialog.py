"""A chat's knowledge in the window: the header's Knowledge button, its dialog adding
documents in the background (an image or a broken file named with the reason), Remove,
and the count following the chat."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.threads.knowledge_button import NOT_A_DOCUMENT, KnowledgeDialog
from tests.support.attached import pdf, png

MakeWindow = Callable[[], MainWindow]


def test_documents_are_added_listed_counted_and_removed(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    thread = ui_services.threads.create(me, "Research")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    button = window.header.knowledge_button
    assert button.objectName() == "knowledgeButton" and button.text() == "Knowledge"
    button.click()
    dialog = window.findChild(KnowledgeDialog, "knowledgeDialog")
    assert dialog is not None and dialog.isVisible()

    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe budget is 40,000 euros.\n", encoding="utf-8")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not a PDF at all")
    task = dialog.add_paths(
        [
            pdf(tmp_path / "report.pdf", "Quarterly report"),
            notes,
            png(tmp_path / "photo.png"),
            broken,
        ]
    )
    assert not dialog.add_button.isEnabled()  # one adding at a time
    with qtbot.waitSignal(task.ended, timeout=20_000):
        pass
    names = [
        dialog.documents.item(n).text().split("  ·  ")[0] for n in range(dialog.documents.count())
    ]
    assert names == ["report.pdf", "notes.md"]
    told = dialog.message.text()
    assert f"photo.png: {NOT_A_DOCUMENT}" in told and "broken.pdf:" in told
    assert [f.file_name for f in ui_services.knowledge.list(me, thread.id)] == names

    dialog.documents.setCurrentRow(1)
    dialog.remove_button.click()
    assert [f.file_name for f in ui_services.knowledge.list(me, thread.id)] == ["report.pdf"]
    dialog.accept()
    qtbot.waitUntil(lambda: button.text() == "Knowledge (1)")

    other = ui_services.threads.create(me, "Other")
    window.sidebar.select_thread(other.id)
    qtbot.waitUntil(lambda: button.text() == "Knowledge")
    window.close()
