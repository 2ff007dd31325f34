"""The thread list repaints a changed row without re-measuring every row.

QListView re-lays out all loaded rows on any ``dataChanged``; a reply changes its
thread's preview and time several times, and with hundreds of rows loaded that was
~20 ms of the GUI's time per reply, just before the first token.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.threads.thread_list import HEADER_HEIGHT, INSET, PAD, ROW_HEIGHT
from chatdesk.ui.threads.thread_model import ThreadRoles

MakeWindow = Callable[[], MainWindow]


class SizeHintCounter:
    """Counts the delegate's sizeHint calls (each is one row measured)."""

    def __init__(self, window: MainWindow) -> None:
        delegate = window.sidebar.view.itemDelegate()
        self.calls = 0
        original = delegate.sizeHint

        def counting(option, index):  # type: ignore[no-untyped-def]
            self.calls += 1
            return original(option, index)

        delegate.sizeHint = counting  # type: ignore[method-assign]


class PaintCounter(QObject):
    def __init__(self, widget: QObject) -> None:
        super().__init__(widget)
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def test_a_new_preview_repaints_without_relayout(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    threads = [ui_services.threads.create(me, f"Chat {n}") for n in range(60)]
    newest = threads[-1].id
    window = make_window()
    view = window.sidebar.view
    qtbot.waitUntil(lambda: view.model().rowCount() == 60)
    counter = SizeHintCounter(window)
    paints = PaintCounter(view.viewport())
    qtbot.wait(50)
    counter.calls = paints.paints = 0

    # A message in the top thread: new preview and time, same place, same group.
    ui_services.messages.send(me, newest, "What changed?", triggers_execution=False)
    qtbot.waitUntil(lambda: paints.paints > 0)
    qtbot.wait(50)
    assert counter.calls <= 5  # the changed row at most, not all 60
    assert view.model().index(0, 0).data(ThreadRoles.Preview) == "What changed?"

    # A thread that moves changes the rows around it: then everything is measured.
    ui_services.messages.send(me, threads[0].id, "Me first", triggers_execution=False)
    qtbot.waitUntil(lambda: view.model().thread_ids()[0] == threads[0].id)
    qtbot.waitUntil(lambda: counter.calls >= 60)
    first = view.visualRect(view.model().index(0, 0))
    second = view.visualRect(view.model().index(1, 0))
    assert first.height() == ROW_HEIGHT + HEADER_HEIGHT  # "Today" header above it
    assert second.height() == ROW_HEIGHT


@pytest.mark.parametrize("points", [0, 16])
def test_the_rename_editor_leaves_the_chat_time_readable(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, points: int
) -> None:
    thread = ui_services.threads.create(me, "A title to rename")
    window = make_window()
    view = window.sidebar.view
    qtbot.waitUntil(lambda: view.model().rowCount() == 1)
    window.apply_font_size(points)
    request_reset = window.apply_font_size
    index = view.model().index(0, 0)
    time_text = str(index.data(ThreadRoles.TimeText))
    assert time_text
    window.sidebar.start_rename(thread.id)
    editor = view.indexWidget(index) or view.findChild(QLineEdit)
    assert isinstance(editor, QLineEdit)
    qtbot.waitUntil(editor.isVisible)
    small = QFont(view.font())
    small.setPointSizeF(max(small.pointSizeF() - 1.0, 7.0))
    row = view.visualRect(index)
    time_left = row.right() - INSET - PAD - QFontMetrics(small).horizontalAdvance(time_text)
    try:
        assert editor.geometry().right() < time_left
    finally:
        request_reset(0)


def test_rows_grow_with_the_text_size(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    ui_services.threads.create(me, "Big text")
    window = make_window()
    view = window.sidebar.view
    qtbot.waitUntil(lambda: view.model().rowCount() == 1)
    window.apply_font_size(20)
    try:
        qtbot.waitUntil(
            lambda: view.visualRect(view.model().index(0, 0)).height() > ROW_HEIGHT + HEADER_HEIGHT
        )
        needed = QFontMetrics(view.font()).height() * 2  # a title line and a preview line
        assert view.visualRect(view.model().index(0, 0)).height() - HEADER_HEIGHT > needed
    finally:
        window.apply_font_size(0)
