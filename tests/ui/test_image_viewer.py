"""The image viewer fits a photo to its window when it opens and when it is resized."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.chat.image_viewer import ImageViewer, read_image
from tests.support.attached import png


def test_a_big_photo_fills_the_window_in_one_direction_and_follows_a_resize(
    qtbot: QtBot, ui_services: Services, me: int, tmp_path: Path
) -> None:
    record = ui_services.attachments.add(me, png(tmp_path / "big.png", (2000, 1500), "teal"))
    path = ui_services.attachments.path_of(me, record.id)
    viewer = ImageViewer(read_image(path), record, path)
    qtbot.addWidget(viewer)
    with qtbot.waitExposed(viewer):
        viewer.show()

    def fills() -> bool:
        room = viewer.area.viewport().size()
        shown = viewer.label.size()
        return (
            shown.width() <= room.width()
            and shown.height() <= room.height()
            and (room.width() - shown.width() <= 2 or room.height() - shown.height() <= 2)
        )

    qtbot.waitUntil(fills)
    first = viewer.zoom
    assert 0.2 < first < 1.0  # a 2000-pixel photo in a 720-pixel window: about a third
    viewer.resize(viewer.width() + 300, viewer.height() + 200)
    qtbot.waitUntil(lambda: fills() and viewer.zoom > first)
    viewer.close()
