"""Importing a big chat on the real window: in the background, with progress and Cancel.

Real SQLite file, real services, real window. Responsiveness is checked by counting the
ticks of a short QTimer while the import runs (a frozen event loop ticks none), never by
timing anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.events import Change
from chatdesk.services.transfer import ImportProgress, ImportStage
from chatdesk.store.models import Execution, Message, Thread
from chatdesk.ui.bridge import ChangeSignals
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.tasks import TaskControl
from chatdesk.ui.transfer.import_panel import ImportPanel
from tests.support.exports import write_export
from tests.ui.conftest import add_messages

MakeWindow = Callable[[], MainWindow]
MESSAGES = 20_000
IMPORT_TIMEOUT_MS = 60_000
CANCEL_AT = 4_000


def _rows(services: Services) -> tuple[int, int, int]:
    """Threads, messages and executions in the whole database (every user)."""
    with services.store.session_factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Thread, Message, Execution)
        )


class _Ticks:
    """Counts a 10 ms timer's ticks: the event loop's heartbeat."""

    def __init__(self) -> None:
        self.count = 0
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self.on_tick)
        self.timer.start()

    def on_tick(self) -> None:
        self.count += 1


def test_a_big_import_shows_progress_while_the_window_keeps_working(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    other = ui_services.threads.create(me, "Another chat")
    add_messages(ui_services.store, other.id, me, 300)
    window = make_window()
    actions = window.chat_actions
    path = write_export(tmp_path / "big.json", MESSAGES, "Imported big chat")
    ticks = _Ticks()
    progress: list[ImportProgress] = []
    read_while_importing: list[int] = []

    def on_progress(report: ImportProgress) -> None:
        progress.append(report)
        panel_text.append(actions.import_panel.label.text())
        if report.stage is ImportStage.WRITING and not read_while_importing:
            # the person opens another chat and scrolls it while the import runs
            window.sidebar.select_thread(other.id)
            window.message_view.scrollToTop()
            read_while_importing.append(window.message_model.rowCount())
            ticks.count = 0

    panel_text: list[str] = []
    task = actions.import_chat(str(path))
    assert task is not None
    task.progressed.connect(on_progress, Qt.ConnectionType.QueuedConnection)
    assert actions.import_panel.isVisible() and not actions.import_action.isEnabled()
    qtbot.waitUntil(lambda: actions.import_task is None, timeout=IMPORT_TIMEOUT_MS)
    ticks_while_writing = ticks.count
    ticks.timer.stop()

    writing = [p for p in progress if p.stage is ImportStage.WRITING]
    assert len(writing) > 10 and writing[-1].done == writing[-1].total == MESSAGES
    said = f" of {MESSAGES:,} messages"
    assert any(t.startswith("Importing big.json… ") and t.endswith(said) for t in panel_text)
    assert read_while_importing and read_while_importing[0] > 0  # the other chat showed
    assert ticks_while_writing > 5  # the event loop kept running while rows were written
    assert not actions.import_panel.isVisible() and actions.import_action.isEnabled()
    imported = window.current_thread_id
    assert imported is not None and imported != other.id
    assert window.windowTitle() == "Imported big chat — chatdesk"
    assert window.thread_model.thread_ids()[0] == imported
    assert window.toast.label.text() == f"Imported “Imported big chat” ({MESSAGES:,} messages)"
    assert _rows(ui_services) == (2, 300 + MESSAGES, MESSAGES // 2)


def test_cancel_mid_import_keeps_nothing_and_says_so(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window()
    actions = window.chat_actions
    before = _rows(ui_services)
    clicked = threading.Event()
    report_progress = TaskControl.progress

    def paced(control: TaskControl, report: ImportProgress) -> None:
        """Rows are written; the worker waits for the click (so it cannot finish first)."""
        report_progress(control, report)
        if report.stage is ImportStage.WRITING and report.done >= CANCEL_AT:
            clicked.wait(IMPORT_TIMEOUT_MS / 1000)

    monkeypatch.setattr(TaskControl, "progress", paced)
    staged_when_cancelled: list[int] = []
    outcome: list[str] = []

    def on_progress(report: ImportProgress) -> None:
        panel = actions.import_panel
        far_enough = report.stage is ImportStage.WRITING and report.done >= CANCEL_AT
        if far_enough and not staged_when_cancelled:
            staged_when_cancelled.append(_rows(ui_services)[1])
            qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
            clicked.set()
            assert not panel.cancel_button.isEnabled()
            assert panel.label.text() == "Cancelling the import of big.json…"

    task = actions.import_chat(str(write_export(tmp_path / "big.json", MESSAGES)))
    assert task is not None
    task.progressed.connect(on_progress, Qt.ConnectionType.QueuedConnection)
    task.cancelled.connect(lambda: outcome.append("cancelled"))
    task.succeeded.connect(lambda _r: outcome.append("succeeded"))
    qtbot.waitUntil(lambda: actions.import_task is None, timeout=IMPORT_TIMEOUT_MS)
    assert outcome == ["cancelled"]
    assert staged_when_cancelled and staged_when_cancelled[0] >= CANCEL_AT  # rows were written
    assert _rows(ui_services) == before  # and are all gone again
    assert ui_services.threads.count(me) == 0 and window.thread_model.rowCount() == 0
    assert window.toast.label.text() == "Import of big.json cancelled; nothing was added."
    assert not actions.import_panel.isVisible() and actions.import_action.isEnabled()


def test_a_broken_file_is_reported_and_writes_nothing(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, tmp_path: Path
) -> None:
    window = make_window()
    actions = window.chat_actions
    path = write_export(tmp_path / "broken.json", MESSAGES)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    assert actions.import_chat(str(path)) is not None  # checked in the background
    qtbot.waitUntil(lambda: actions.import_task is None, timeout=IMPORT_TIMEOUT_MS)
    assert window.toast.isVisible()
    said = window.toast.label.text()
    assert said.startswith("Could not import broken.json: This file is not valid JSON (messages[")
    assert said.endswith("the file ends too soon).")
    assert _rows(ui_services) == (0, 0, 0)
    assert not actions.import_panel.isVisible() and actions.import_action.isEnabled()


def test_changes_committed_on_another_thread_are_heard_on_the_gui_thread(
    qtbot: QtBot, ui_services: Services, me: int
) -> None:
    signals = ChangeSignals(ui_services.bus, me)
    heard: list[tuple[str, int]] = []

    class Plain:
        """A bus listener that is no QObject (like the run coordinator)."""

        def on_change(self, change: Change) -> None:
            heard.append(("bus", threading.get_ident()))

    ui_services.bus.subscribe(Plain())
    signals.thread_changed.connect(lambda _c: heard.append(("signal", threading.get_ident())))
    writer = threading.Thread(target=lambda: ui_services.threads.create(me, "from a worker"))
    writer.start()
    writer.join()
    qtbot.waitUntil(lambda: len(heard) == 2)
    assert sorted(heard) == [("bus", threading.get_ident()), ("signal", threading.get_ident())]
    signals.close()


def test_closing_the_window_mid_import_stops_it_and_keeps_nothing(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window()
    writing = threading.Event()
    report_progress = TaskControl.progress

    def note(control: TaskControl, report: ImportProgress) -> None:
        report_progress(control, report)
        if report.stage is ImportStage.WRITING and report.done >= CANCEL_AT:
            writing.set()
            time.sleep(0.05)  # slow enough that the window closes mid-way

    monkeypatch.setattr(TaskControl, "progress", note)
    task = window.chat_actions.import_chat(str(write_export(tmp_path / "big.json", MESSAGES)))
    assert task is not None
    qtbot.waitUntil(writing.is_set, timeout=IMPORT_TIMEOUT_MS)
    window.close()  # cancels the import and waits for its clean-up
    assert not task.is_running()
    assert _rows(ui_services) == (0, 0, 0)


def test_the_bar_and_its_text_tell_the_same_stage_share(qtbot: QtBot) -> None:
    panel = ImportPanel()
    qtbot.addWidget(panel)
    panel.begin("big.json")
    for stage, done, total in (
        (ImportStage.READING, 42, 100),
        (ImportStage.WRITING, 24_000, 100_000),
    ):
        panel.show_progress(ImportProgress(stage, done, total))
        assert panel.bar.value() / panel.bar.maximum() == pytest.approx(done / total)
    assert panel.label.text() == "Importing big.json… 24,000 of 100,000 messages"
