"""The thread list repaints a changed row without re-measuring every row.

QListView re-lays out all loaded rows on any ``dataChanged``; a reply changes its
thread's preview and time several times, and with hundreds of rows loaded that was
~20 ms of the GUI's time per reply, just before the first token.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.thread_list import HEADER_HEIGHT, ROW_HEIGHT
from chatdesk.ui.thread_model import ThreadRoles

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
