"""A document attached in the window is read into text in the background: its chip says
``reading`` with its progress, then ``ready``; the text is kept for the run; a PDF the
model cannot read stays attached with a word on the chip and a notice.

Real PDFs written by fpdf2, the real attachment service and extraction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.testing import attach_files, chips
from chatdesk.ui.chat.attachment_chips import ChipRoles
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.notices import NoticeKind
from tests.support import attached

MakeWindow = Callable[[], MainWindow]
FIELDS = ("fileName", "state", "reason", "progress")


def _corrupt_pdf(path: Path) -> Path:
    """A PDF that opens (its structure is whole) but whose page stream is garbage."""
    data = bytearray(attached.pdf(path, "Never readable").read_bytes())
    start = data.find(b"stream\n") + len(b"stream\n")
    data[start : start + 20] = b"A" * 20
    path.write_bytes(bytes(data))
    return path


def test_a_pdf_is_read_with_progress_and_its_text_kept(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    window = make_window()
    pages = [f"Page {n}: the tide tables for the harbour, week {n}." for n in range(1, 31)]
    pdf = attached.pdf_pages(tmp_path / "tides.pdf", pages)
    model = window.composer.chip_model
    seen: list[tuple[str, float]] = []

    def on_changed(top: QModelIndex, _bottom: QModelIndex, _roles: list[int]) -> None:
        seen.append((top.data(ChipRoles.State), float(top.data(ChipRoles.Progress))))

    model.dataChanged.connect(on_changed)
    (chip,) = attach_files(qtbot, window, pdf)

    assert chip["state"] == "ready"
    assert chips(window, FIELDS)[0]["reason"] == ""
    reading = [share for state, share in seen if state == "reading"]
    assert reading[0] == 0.0 and len(reading) > 2 and reading == sorted(reading)
    (record,) = window.attaching.ready()
    texts = ui_services.document_texts
    assert texts.path(record.sha256).is_file() and texts.extractions == 1
    path = ui_services.attachments.path_of(me, record.id)
    assert texts.document(record.sha256, path, "pdf", "tides.pdf").places == 30
    assert texts.extractions == 1  # what the run will ask for is kept


def test_a_pdf_the_model_cannot_read_stays_attached_and_says_so(
    qtbot: QtBot, make_window: MakeWindow, tmp_path: Path
) -> None:
    window = make_window()
    told: list[tuple[str, NoticeKind]] = []
    window.notices.shown.connect(lambda text, kind: told.append((text, kind)))

    attach_files(qtbot, window, _corrupt_pdf(tmp_path / "scan.pdf"))

    (chip,) = chips(window, FIELDS)
    assert chip["state"] == "ready"
    assert str(chip["reason"]).startswith("The model will not see scan.pdf: scan.pdf has no text")
    assert [kind for _text, kind in told] == [NoticeKind.ERROR]
    assert [record.file_name for record in window.attaching.ready()] == ["scan.pdf"]


def test_a_damaged_pdf_is_refused_with_the_reason_on_its_chip(
    qtbot: QtBot, make_window: MakeWindow, tmp_path: Path
) -> None:
    whole = attached.pdf(tmp_path / "whole.pdf", "Half of it is gone").read_bytes()
    torn = tmp_path / "torn.pdf"
    torn.write_bytes(whole[: len(whole) // 2])
    window = make_window()

    attach_files(qtbot, window, torn)

    (chip,) = chips(window, FIELDS)
    assert chip["state"] == "failed" and "damaged" in str(chip["reason"])
    assert window.attaching.ready() == []
