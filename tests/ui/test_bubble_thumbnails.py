"""The bubbles' pictures (chatdesk.ui.chat.bubble_thumbnails): decoded by one task, the
newest ask first, asks scrolled past dropped, kept across a long scroll."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QImage, QPaintEvent
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.chat.bubble_thumbnails import PENDING_MAX, BubbleThumbnails
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.tasks import Tasks
from tests.support.attached import png

SIDE = 36


@pytest.fixture
def tasks() -> Iterator[Tasks]:
    owner = Tasks()
    yield owner
    owner.close()


def _images(
    services: Services, user: int, folder: Path, count: int, size: tuple[int, int] = (120, 90)
) -> list[AttachmentRecord]:
    folder.mkdir()
    colours = [f"#{n * 37 % 256:02x}{n * 91 % 256:02x}{n * 53 % 256:02x}" for n in range(count)]
    return [
        services.attachments.add(user, png(folder / f"p{n}.png", size, colours[n]))
        for n in range(count)
    ]


def _decoders() -> int:
    return sum(thread.name == "chatdesk-thumbnails" for thread in threading.enumerate())


def test_a_burst_of_asks_is_decoded_by_one_task_newest_first(
    qtbot: QtBot, ui_services: Services, me: int, tmp_path: Path, tasks: Tasks
) -> None:
    # photo-sized: decoding one takes far longer than the whole burst of asks
    records = _images(ui_services, me, tmp_path / "in", PENDING_MAX + 12, (1600, 1200))
    thumbnails = BubbleThumbnails(ui_services.attachments, me, tasks, SIDE)
    came: list[int] = []
    thumbnails.ready.connect(came.append)
    most = 0
    for record in records:  # a fast scroll: every picture asked within one frame
        assert thumbnails.thumbnail(record) is None
        most = max(most, _decoders())
    newest = records[-PENDING_MAX:]
    qtbot.waitUntil(lambda: all(thumbnails.cached(r.id) is not None for r in newest))
    assert most <= 1 and _decoders() <= 1
    # the asks scrolled past were dropped, not decoded for nothing (the task may have
    # taken one or two while the burst came in)
    dropped = records[: len(records) - PENDING_MAX]
    assert sum(thumbnails.cached(r.id) is not None for r in dropped) <= 3
    after_burst = came[-(PENDING_MAX - 3) :]
    assert after_burst == sorted(after_burst, reverse=True), "the newest ask comes first"
    picture = thumbnails.cached(records[-1].id)
    assert isinstance(picture, QImage)
    assert max(picture.width(), picture.height()) <= SIDE
    assert picture.format() == QImage.Format.Format_ARGB32_Premultiplied

    # scrolled back to them: asked again, and they come
    for record in dropped:
        thumbnails.thumbnail(record)
    qtbot.waitUntil(lambda: all(thumbnails.cached(r.id) is not None for r in dropped))


def test_a_picture_kept_is_not_decoded_again_and_a_lost_file_is_not_retried(
    qtbot: QtBot, ui_services: Services, me: int, tmp_path: Path, tasks: Tasks
) -> None:
    first, lost = _images(ui_services, me, tmp_path / "in", 2)
    ui_services.attachments.path_of(me, lost.id).unlink()  # gone from the data dir
    thumbnails = BubbleThumbnails(ui_services.attachments, me, tasks, SIDE)
    came: list[int] = []
    thumbnails.ready.connect(came.append)
    thumbnails.thumbnail(first)
    thumbnails.thumbnail(lost)
    qtbot.waitUntil(lambda: thumbnails.cached(first.id) is not None)
    qtbot.waitUntil(lambda: not tasks.running(), timeout=10_000)  # the task ends when idle
    assert thumbnails.thumbnail(first) is thumbnails.cached(first.id)
    assert thumbnails.thumbnail(lost) is None  # not asked again on every paint
    qtbot.wait(100)
    assert came == [first.id] and not tasks.running()


class PaintedRects(QObject):
    """The regions the viewport was asked to paint, once a picture has come in."""

    def __init__(self, thumbnails: BubbleThumbnails) -> None:
        super().__init__()
        self.rects: list[QRect] = []
        self.armed = False
        self.awaited: int | None = None
        thumbnails.ready.connect(self._arm)

    def _arm(self, attachment_id: int) -> None:
        self.armed = self.armed or attachment_id == self.awaited

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.armed and isinstance(event, QPaintEvent):
            self.rects.append(event.rect())
        return False


def test_a_picture_that_comes_in_repaints_its_bubble_only(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    me: int,
    tmp_path: Path,
) -> None:
    thread = ui_services.threads.create(me, "Photos")
    for n in range(6):  # other bubbles on screen, which need no repaint
        ui_services.messages.send(me, thread.id, f"words {n}", triggers_execution=False)
    window = make_window()
    window.resize(1000, 700)
    view = window.message_view
    painted = PaintedRects(window.bubble_thumbnails)
    view.viewport().installEventFilter(painted)
    window.sidebar.select_thread(thread.id)
    view.grab()  # laid out and painted: the chat is settled
    photo = ui_services.attachments.add(me, png(tmp_path / "sea.png", (640, 480), "#1e78c8"))
    painted.awaited = photo.id
    sent = ui_services.messages.send(
        me, thread.id, "the sea", triggers_execution=False, attachments=[photo]
    )
    qtbot.waitUntil(lambda: bool(painted.rects), timeout=5000)
    row = window.message_model.row_of(sent.message.id)
    assert row is not None
    bubble = view.visualRect(window.message_model.index(row))
    assert all(bubble.contains(rect) for rect in painted.rects), (bubble, painted.rects)
    assert window.bubble_thumbnails.cached(photo.id) is not None
    window.close()
