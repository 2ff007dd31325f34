"""Attaching files in the window: the Attach button, drops, pastes, the chips above the
composer, sending them, and what the chat shows of a message's files.

Files are real (a PNG from Pillow, a PDF from fpdf2) and go through the real
``services.attachments``; only the file dialog is replaced (``attach_files``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fpdf import FPDF
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.attachment_types import MAX_FILES_PER_MESSAGE
from chatdesk.services.errors import ValidationError
from chatdesk.testing import attach_files, chips, drop_files, rows, wait_for_chips
from chatdesk.ui.chat import image_viewer
from chatdesk.ui.chat.attachment_chips import ChipDelegate, ChipRoles
from chatdesk.ui.chat.image_viewer import ImageViewer
from chatdesk.ui.chat.message_delegate import FILE_THUMB
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.notices import NoticeKind
from tests.support.gui_lag import GuiLagMonitor

MakeWindow = Callable[[], MainWindow]


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.new("RGB", (640, 480), (30, 120, 200)).save(path)
    return path


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="A page of a report")
    path = tmp_path / "report.pdf"
    document.output(str(path))
    return path


@pytest.fixture
def window(make_window: MakeWindow) -> MainWindow:
    return make_window()


@pytest.fixture
def notices(window: MainWindow) -> Iterator[list[tuple[str, NoticeKind]]]:
    told: list[tuple[str, NoticeKind]] = []
    window.notices.shown.connect(lambda text, kind: told.append((text, kind)))
    yield told


def _errors(told: list[tuple[str, NoticeKind]]) -> list[str]:
    return [text for text, kind in told if kind is NoticeKind.ERROR]


def _press_send(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)


# -- adding --------------------------------------------------------------------------


def test_the_button_adds_files_as_ready_chips_with_a_thumbnail_for_images(
    qtbot: QtBot, window: MainWindow, png: Path, pdf: Path
) -> None:
    button = window.composer.attach_button
    assert button.objectName() == "attachButton"
    assert button.accessibleName()
    assert f"at most {MAX_FILES_PER_MESSAGE} files" in button.toolTip()
    assert not window.composer.chips.isVisible()

    shown = attach_files(qtbot, window, png, pdf)

    assert shown == [
        {
            "fileName": "photo.png",
            "mimeType": "image/png",
            "sizeBytes": png.stat().st_size,
            "state": "ready",
        },
        {
            "fileName": "report.pdf",
            "mimeType": "application/pdf",
            "sizeBytes": pdf.stat().st_size,
            "state": "ready",
        },
    ]
    assert window.composer.chips.isVisible()
    model = window.composer.chip_model
    thumb = model.index(0, 0).data(ChipRoles.Thumbnail)
    assert isinstance(thumb, QImage)
    assert max(thumb.width(), thumb.height()) <= 32  # decoded small, not 640x480
    assert model.index(1, 0).data(ChipRoles.Thumbnail) is None
    assert window.composer.send_button.isEnabled()  # a message may be only files


def test_a_file_gone_before_it_is_read_fails_its_chip_with_the_reason(
    qtbot: QtBot, window: MainWindow, notices: list[tuple[str, NoticeKind]], tmp_path: Path
) -> None:
    gone = tmp_path / "gone.txt"
    gone.write_text("here a moment ago")
    started = threading.Event()
    original = window.services.attachments.add

    def add_after_removal(user_id: int, path: Path | str) -> Any:
        Path(path).unlink()  # vanishes between the pick and the read
        started.set()
        return original(user_id, path)

    window.services.attachments.add = add_after_removal  # type: ignore[method-assign]
    window.composer.set_text("keep this draft")

    shown = attach_files(qtbot, window, gone)

    assert started.is_set()
    assert [chip["state"] for chip in shown] == ["failed"]
    reason = window.composer.chip_model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "gone.txt" in reason
    assert any("gone.txt was not attached" in text for text in _errors(notices))
    assert window.composer.text() == "keep this draft"


def test_more_files_than_a_message_carries_are_refused_with_the_limit(
    qtbot: QtBot, window: MainWindow, notices: list[tuple[str, NoticeKind]], tmp_path: Path
) -> None:
    files = []
    for n in range(MAX_FILES_PER_MESSAGE + 1):
        path = tmp_path / f"note{n}.txt"
        path.write_text(f"note {n}")
        files.append(path)

    assert attach_files(qtbot, window, *files) == []
    assert any(f"at most {MAX_FILES_PER_MESSAGE} files" in text for text in _errors(notices))

    attach_files(qtbot, window, *files[:MAX_FILES_PER_MESSAGE])
    assert len(chips(window)) == MAX_FILES_PER_MESSAGE
    notices.clear()
    assert len(attach_files(qtbot, window, files[-1])) == MAX_FILES_PER_MESSAGE
    assert any(f"at most {MAX_FILES_PER_MESSAGE} files" in text for text in _errors(notices))


def test_a_file_over_the_size_limit_is_refused_by_name(
    qtbot: QtBot,
    window: MainWindow,
    notices: list[tuple[str, NoticeKind]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatdesk.services import attachment_types

    monkeypatch.setattr(attachment_types, "MAX_DOCUMENT_BYTES", 1_000)
    big = tmp_path / "big.txt"
    big.write_text("x" * 5_000)

    shown = attach_files(qtbot, window, big)

    assert [chip["state"] for chip in shown] == ["failed"]
    assert any("big.txt was not attached" in text for text in _errors(notices))


def test_the_cross_removes_a_chip(qtbot: QtBot, window: MainWindow, png: Path, pdf: Path) -> None:
    attach_files(qtbot, window, png, pdf)
    view = window.composer.chips
    rect = view.visualRect(window.composer.chip_model.index(0, 0))
    cross = ChipDelegate.close_rect(rect.adjusted(2, 2, -2, -2)).center()

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=cross)

    assert [chip["fileName"] for chip in chips(window)] == ["report.pdf"]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=cross)
    assert chips(window) == []
    assert not view.isVisible()
    assert not window.composer.send_button.isEnabled()


# -- drop and paste ------------------------------------------------------------------


def test_files_dropped_on_the_composer_or_the_chat_are_attached(
    qtbot: QtBot, window: MainWindow, png: Path, pdf: Path
) -> None:
    assert drop_files(window, png)
    assert drop_files(window, pdf, onto="messageList")

    assert [chip["fileName"] for chip in wait_for_chips(qtbot, window)] == [
        "photo.png",
        "report.pdf",
    ]
    assert window.composer.text() == ""  # no path typed into the message


def test_a_dropped_remote_url_is_refused_with_a_message(
    qtbot: QtBot, window: MainWindow, notices: list[tuple[str, NoticeKind]]
) -> None:
    drop_files(window, "https://example.com/cat.png")

    assert chips(window) == []
    assert any("Only files on this computer" in text for text in _errors(notices))


def test_pasting_an_image_attaches_a_png_and_text_stays_text(
    qtbot: QtBot, window: MainWindow, png: Path, tmp_path: Path
) -> None:
    edit = window.composer.edit
    edit.setFocus()
    clipboard = QGuiApplication.clipboard()
    clipboard.setImage(QImage(str(png)))
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    shown = wait_for_chips(qtbot, window)
    assert [(chip["mimeType"], chip["state"]) for chip in shown] == [("image/png", "ready")]

    note = tmp_path / "notes.md"
    note.write_text("# notes")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(note))])
    clipboard.setMimeData(data)
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert [chip["fileName"] for chip in wait_for_chips(qtbot, window)][-1] == "notes.md"

    clipboard.setText("just words")
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.composer.text() == "just words"
    assert len(chips(window)) == 2


# -- sending -------------------------------------------------------------------------


def test_sending_takes_the_ready_files_and_clears_the_chips(
    qtbot: QtBot, window: MainWindow, ui_services: Services, me: int, png: Path, pdf: Path
) -> None:
    attach_files(qtbot, window, png, pdf)

    _press_send(qtbot, window)  # no text: a message of files only

    qtbot.waitUntil(lambda: len(rows(window)) == 1)
    assert chips(window) == []
    message_id = rows(window)[0]["messageId"]
    stored = ui_services.attachments.for_message(me, message_id)
    assert [(f.file_name, f.mime_type) for f in stored] == [
        ("photo.png", "image/png"),
        ("report.pdf", "application/pdf"),
    ]
    shown = rows(window, ("attachments",))[0]["attachments"]
    assert [(a["fileName"], a["mimeType"], a["kind"]) for a in shown] == [
        ("photo.png", "image/png", "image"),
        ("report.pdf", "application/pdf", "pdf"),
    ]
    assert [a["id"] for a in shown] == [f.id for f in stored]
    assert shown[1]["sizeBytes"] == pdf.stat().st_size


def test_a_failed_send_keeps_the_chips_and_the_text(
    qtbot: QtBot, window: MainWindow, png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attach_files(qtbot, window, png)
    window.composer.set_text("look at this")

    def refuse(*_args: object, **_kwargs: object) -> Any:
        raise ValidationError("The chat is closed to new messages.")

    monkeypatch.setattr(window.services.conversation, "send", refuse)
    _press_send(qtbot, window)

    assert window.composer.error_label.text().startswith("The chat is closed")
    assert window.composer.text() == "look at this"
    assert [chip["state"] for chip in chips(window)] == ["ready"]


def test_sending_while_a_file_is_still_adding_says_so_and_sends_nothing(
    qtbot: QtBot, window: MainWindow, png: Path
) -> None:
    release = threading.Event()
    original = window.services.attachments.add

    def slow_add(user_id: int, path: Path | str) -> Any:
        release.wait(10)
        return original(user_id, path)

    window.services.attachments.add = slow_add  # type: ignore[method-assign]
    window.composer.set_text("with a photo")
    attach_files(qtbot, window, png, wait=False)
    assert [chip["state"] for chip in chips(window)] == ["adding"]

    _press_send(qtbot, window)

    assert "Still attaching photo.png" in window.composer.error_label.text()
    assert rows(window) == []
    release.set()
    wait_for_chips(qtbot, window)
    _press_send(qtbot, window)
    qtbot.waitUntil(lambda: len(rows(window)) == 1)
    assert chips(window) == []


def test_adding_a_20_mb_file_keeps_the_window_responsive(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    line = "a,b,c,d,e,f,g,h\n" * 64
    with big.open("w") as out:
        for _ in range(20_000_000 // len(line)):
            out.write(line)

    with GuiLagMonitor().measuring() as lag:
        attach_files(qtbot, window, big)

    assert [chip["state"] for chip in chips(window)] == ["ready"]
    assert lag.app_lag_ms <= 100, lag.describe()


def test_the_chips_model_names_its_roles(window: MainWindow) -> None:
    names = {
        bytes(name.data()).decode() for name in window.composer.chip_model.roleNames().values()
    }
    assert {"fileName", "mimeType", "sizeBytes", "state"} <= names


# -- in the chat ---------------------------------------------------------------------


def _send_files(qtbot: QtBot, window: MainWindow, *paths: Path, text: str = "") -> int:
    attach_files(qtbot, window, *paths)
    window.composer.set_text(text)
    _press_send(qtbot, window)
    qtbot.waitUntil(lambda: bool(rows(window)) and chips(window) == [])
    return int(rows(window)[-1]["messageId"])


def _file_chip(window: MainWindow, message_id: int, n: int) -> QPoint:
    view = window.message_view
    row = window.message_model.row_of(message_id)
    assert row is not None
    index = window.message_model.index(row)
    view.scrollTo(index)
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    assert len(geo.files) > n
    assert geo.bubble.contains(geo.files[n])
    return geo.files[n].center().toPoint()


def test_a_bubble_shows_its_files_and_a_click_opens_an_image_in_the_viewer(
    qtbot: QtBot, window: MainWindow, png: Path, pdf: Path, tmp_path: Path
) -> None:
    message_id = _send_files(qtbot, window, png, pdf, text="two files")
    viewport = window.message_view.viewport()
    opened: list[ImageViewer] = []
    window.opener.viewer_opened.connect(opened.append)

    chip = _file_chip(window, message_id, 0)
    first = rows(window, ("attachments",))[-1]["attachments"][0]["id"]
    qtbot.waitUntil(  # the bubble's picture of the image, decoded off the GUI thread
        lambda: window.bubble_thumbnails.cached(first) is not None, timeout=5000
    )
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=chip)

    qtbot.waitUntil(lambda: bool(opened))
    stored = rows(window, ("attachments",))[-1]["attachments"]
    picture = window.bubble_thumbnails.cached(stored[0]["id"])
    assert picture is not None and max(picture.width(), picture.height()) <= FILE_THUMB
    assert window.bubble_thumbnails.cached(stored[1]["id"]) is None  # a PDF has none
    viewer = window.findChild(ImageViewer, "imageViewer")
    assert viewer is opened[0] and viewer.isVisible()
    assert (viewer.image.width(), viewer.image.height()) == (640, 480)
    fitted = viewer.zoom
    assert fitted <= 1.0
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    assert viewer.zoom > fitted
    qtbot.keyClick(viewer, Qt.Key.Key_Minus)
    qtbot.keyClick(viewer, Qt.Key.Key_Minus)
    assert viewer.zoom < fitted
    before = viewer.zoom
    wheel = QWheelEvent(
        QPointF(10, 10),
        QPointF(10, 10),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewer.area.viewport(), wheel)
    assert viewer.zoom > before  # the wheel over the image zooms it
    qtbot.mouseClick(viewer.copy_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (640, 480)
    target = tmp_path / "saved.png"
    viewer.choose_save_path = lambda: str(target)  # type: ignore[method-assign]
    qtbot.mouseClick(viewer.save_button, Qt.MouseButton.LeftButton)
    assert target.read_bytes() == png.read_bytes()
    viewer.close()


def test_a_click_on_a_document_opens_its_stored_copy_with_the_system(
    qtbot: QtBot,
    window: MainWindow,
    ui_services: Services,
    me: int,
    pdf: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(
        image_viewer.QDesktopServices, "openUrl", lambda url: opened.append(url) or True
    )
    message_id = _send_files(qtbot, window, pdf)
    stored = ui_services.attachments.for_message(me, message_id)[0]

    qtbot.mouseClick(
        window.message_view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=_file_chip(window, message_id, 0),
    )

    assert [url.toLocalFile() for url in opened] == [
        str(ui_services.attachments.path_of(me, stored.id))
    ]
    assert opened[0].toLocalFile() != str(pdf)  # the stored copy, never the original


def test_a_message_without_files_has_no_file_chips_and_opens_nothing(
    qtbot: QtBot, window: MainWindow, png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(
        image_viewer.QDesktopServices, "openUrl", lambda url: opened.append(url) or True
    )
    window.composer.set_text(f"![inline]({QUrl.fromLocalFile(str(png)).toString()})")
    _press_send(qtbot, window)
    qtbot.waitUntil(lambda: len(rows(window)) == 1)
    view = window.message_view
    index = window.message_model.index(0)
    assert rows(window, ("attachments",))[0]["attachments"] == []
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    assert geo.files == ()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=geo.text.center().toPoint())
    assert opened == []
    assert window.findChild(ImageViewer, "imageViewer") is None


def test_chips_stay_with_their_chat_like_its_draft(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    png: Path,
    pdf: Path,
) -> None:
    first = ui_services.threads.create(me, "First").id
    second = ui_services.threads.create(me, "Second").id
    window = make_window()
    window.open_thread(first)
    release = threading.Event()
    original = window.services.attachments.add

    def slow_add(user_id: int, path: Path | str) -> Any:
        if Path(path).suffix == ".pdf":
            release.wait(10)
        return original(user_id, path)

    window.services.attachments.add = slow_add  # type: ignore[method-assign]
    attach_files(qtbot, window, png)
    attach_files(qtbot, window, pdf, wait=False)  # still adding when the chat changes

    window.open_thread(second)
    assert chips(window) == []
    with qtbot.waitSignal(window.attaching.settled):
        release.set()
    assert chips(window) == []  # the first chat's file did not land here

    window.open_thread(first)
    assert [(c["fileName"], c["state"]) for c in chips(window)] == [
        ("photo.png", "ready"),
        ("report.pdf", "ready"),
    ]
    _press_send(qtbot, window)
    qtbot.waitUntil(lambda: len(rows(window)) == 1)
    stored = ui_services.attachments.for_message(me, rows(window)[0]["messageId"])
    assert [f.file_name for f in stored] == ["photo.png", "report.pdf"]


def test_files_attached_with_no_chat_open_go_with_the_new_chat(
    qtbot: QtBot, window: MainWindow, ui_services: Services, me: int, png: Path
) -> None:
    assert window.current_thread_id is None
    attach_files(qtbot, window, png)

    _press_send(qtbot, window)

    qtbot.waitUntil(lambda: len(rows(window)) == 1)
    assert window.current_thread_id is not None
    assert chips(window) == []
    stored = ui_services.attachments.for_message(me, rows(window)[0]["messageId"])
    assert [f.file_name for f in stored] == ["photo.png"]


def test_delete_on_a_chip_removes_it_and_the_model_is_sound(
    qtbot: QtBot, qtmodeltester: Any, window: MainWindow, png: Path, pdf: Path
) -> None:
    attach_files(qtbot, window, png, pdf)
    qtmodeltester.check(window.composer.chip_model)
    view = window.composer.chips
    view.setFocus()
    view.setCurrentIndex(window.composer.chip_model.index(1, 0))

    qtbot.keyClick(view, Qt.Key.Key_Delete)

    assert [chip["fileName"] for chip in chips(window)] == ["photo.png"]
    qtmodeltester.check(window.composer.chip_model)
