"""Garbage collections happen on the GUI thread only (``chatdesk.ui.gui_gc``): a Qt
object caught in a garbage cycle is destroyed there, however busy other threads are."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer
from pytestqt.qtbot import QtBot

from chatdesk.ui.gui_gc import GuiThreadCollector, collect_due


def test_a_qt_object_in_a_garbage_cycle_dies_on_the_gui_thread(qtbot: QtBot) -> None:
    assert not gc.isenabled()  # the session's collector runs, as the app's does
    died_on: list[int] = []
    holder = QObject()
    timer = QTimer(holder)
    timer.start(60_000)  # a running timer: destroying it elsewhere is what Qt refuses
    holder.destroyed.connect(lambda *_: died_on.append(threading.get_ident()))
    loop: list[object] = [holder]
    loop.append(loop)  # a cycle: only a collection frees it
    del holder, timer, loop
    kept: list[list[int]] = []

    def busy() -> None:  # enough new objects to cross the first threshold many times
        kept.extend([] for _ in range(20 * gc.get_threshold()[0]))

    worker = threading.Thread(target=busy)
    worker.start()
    worker.join()
    assert died_on == []  # nothing collected on the busy thread
    qtbot.waitUntil(lambda: bool(died_on), timeout=5_000)
    assert died_on == [threading.get_ident()]


def test_collectors_nest_and_automatic_collection_comes_back_after_the_last() -> None:
    inner = GuiThreadCollector()
    inner.start()
    inner.stop()
    assert not gc.isenabled()  # the session's collector still runs
    gc.collect()
    assert collect_due() is None  # nothing due right after a full collection
