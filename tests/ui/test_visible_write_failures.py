"""A send that the database refuses ends visibly, keeps the text and never freezes the window.

Faults are real: a second SQLite connection holding ``BEGIN EXCLUSIVE`` and a small
tmpfs that fills up. Each test checks what a person sees (the composer's words, the
text still in it), how long the GUI thread stood still at most (a 10 ms timer's
longest gap), and that the database holds exactly what was sent, once.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from chatdesk.ui.busy_retry import WAITING_TEXT
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.setup.settings_dialog import SettingsDialog
from chatdesk.ui.threads import thread_header
from tests.support.exports import write_export
from tests.support.faults import hold_exclusive_lock, small_disk, sqlite_file
from tests.support.gui_lag import GuiLagMonitor

MakeWindow = Callable[[], MainWindow]
STALL_BUDGET_S = 1.0
"""Longest the GUI may stand still: one attempt waits ~0.1 s for the lock; the old 5 s
busy timeout froze it for 5 s. Generous for a busy 2-core machine."""


def _open_thread(window: MainWindow, services: Services, me: int) -> int:
    thread = services.threads.create(me, "faults")
    assert window.sidebar.select_thread(thread.id)
    return thread.id


def _contents(services: Services, me: int, thread_id: int) -> list[str]:
    return [m.content for m in services.messages.list(me, thread_id).messages]


def _send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.composer.edit.setPlainText(text)
    qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)


def test_a_send_into_a_locked_database_waits_visibly_then_says_why_and_keeps_the_text(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    thread_id = _open_thread(window, ui_services, me)
    composer = window.composer
    with GuiLagMonitor().measuring() as stalls, hold_exclusive_lock(sqlite_file(ui_services)):
        _send(qtbot, window, "my precious words")
        assert composer.error_label.text() == WAITING_TEXT
        assert composer.error_label.property("waiting") is True  # drawn muted: not an error
        assert composer.is_waiting() and not composer.send_button.isEnabled()
        qtbot.waitUntil(lambda: not composer.is_waiting(), timeout=20_000)
    shown = composer.error_label.text()
    assert composer.error_label.isVisible()
    assert "busy" in shown and "Nothing was saved" in shown and "kept here" in shown
    assert composer.error_label.property("waiting") is False  # the failure is red
    assert composer.text() == "my precious words"
    assert stalls.app_lag_ms < STALL_BUDGET_S * 1000, stalls.describe()
    assert _contents(ui_services, me, thread_id) == []

    qtbot.mouseClick(
        composer.send_button, Qt.MouseButton.LeftButton
    )  # the lock is gone: Send works
    assert composer.text() == ""
    assert _contents(ui_services, me, thread_id) == ["my precious words"]


def test_a_lock_released_while_the_send_waits_lets_it_through_once(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    thread_id = _open_thread(window, ui_services, me)
    composer = window.composer
    with GuiLagMonitor().measuring() as stalls:
        with hold_exclusive_lock(sqlite_file(ui_services)):
            _send(qtbot, window, "sent after the wait")
            qtbot.wait(400)
            assert composer.is_waiting() and composer.text() == "sent after the wait"
            _send(qtbot, window, "sent after the wait")  # a second click sends nothing more
        qtbot.waitUntil(lambda: composer.text() == "", timeout=20_000)
    assert not composer.error_label.isVisible()
    assert stalls.app_lag_ms < STALL_BUDGET_S * 1000, stalls.describe()
    assert _contents(ui_services, me, thread_id) == ["sent after the wait"]


def test_a_send_on_a_full_disk_says_so_keeps_the_text_and_loses_nothing(
    qtbot: QtBot, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        database = disk.path / "chatdesk.db"
        store = open_store(f"sqlite:///{database}")
        window: MainWindow | None = None
        try:
            services = Services(store)
            me = services.users.ensure()
            window = MainWindow(services, me)
            qtbot.addWidget(window)
            window.show()
            thread_id = _open_thread(window, services, me)
            _send(qtbot, window, "before the disk filled")
            with sqlite3.connect(database) as raw:  # no room left in the WAL either
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            disk.fill()

            _send(qtbot, window, "words that must survive " * 100)
            shown = window.composer.error_label.text()
            assert window.composer.error_label.isVisible()
            assert "disk" in shown and "full" in shown and "kept here" in shown
            assert window.composer.text() == "words that must survive " * 100

            disk.free()
            qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
            assert window.composer.text() == ""
            assert _contents(services, me, thread_id) == [
                "before the disk filled",
                ("words that must survive " * 100).strip(),
            ]
        finally:
            if window is not None:
                window.close()
            store.close()
        with sqlite3.connect(database) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_leaving_a_chat_whose_send_fails_keeps_the_text_as_its_draft(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    first = _open_thread(window, ui_services, me)
    second = ui_services.threads.create(me, "elsewhere").id
    with hold_exclusive_lock(sqlite_file(ui_services)):
        _send(qtbot, window, "written in the first chat")
        assert window.composer.is_waiting()
        assert window.sidebar.select_thread(second)  # the person moves on meanwhile
        assert window.composer.text() == "" and not window.composer.is_waiting()
        qtbot.waitUntil(lambda: not window.busy_retry.is_waiting("send"), timeout=20_000)
        toast = window.toast.label.text()
    assert window.toast.isVisible()
    assert toast.startswith("Your message was not sent.") and "busy" in toast
    assert "kept as that chat's draft" in toast
    assert window.sidebar.select_thread(first)
    assert window.composer.text() == "written in the first chat"
    assert _contents(ui_services, me, first) == []


def test_a_system_prompt_the_locked_database_refuses_comes_back_to_be_saved_again(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window()
    thread_id = _open_thread(window, ui_services, me)
    lock = hold_exclusive_lock(sqlite_file(ui_services))
    shown: list[tuple[str, str]] = []

    def dialog(_parent: object, _title: str, label: str, text: str) -> tuple[str, bool]:
        shown.append((label, text))
        if len(shown) == 1:
            lock.__enter__()  # the database is taken while the person types
            return "A long prompt, typed with care.", True
        lock.__exit__(None, None, None)
        return text, True  # shown again with the text: OK once more

    monkeypatch.setattr(thread_header.QInputDialog, "getMultiLineText", dialog)
    qtbot.mouseClick(window.header.prompt_button, Qt.MouseButton.LeftButton)
    assert len(shown) == 2
    label, text = shown[1]
    assert label.startswith("Not saved: The database is busy")
    assert text == "A long prompt, typed with care."
    assert ui_services.threads.get(me, thread_id).system_prompt == text


def test_a_rename_into_a_briefly_locked_database_waits_then_lands(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    thread_id = _open_thread(window, ui_services, me)
    model = window.thread_model
    row = model.row_of(thread_id)
    assert row is not None
    with contextlib.ExitStack() as lock:
        lock.enter_context(hold_exclusive_lock(sqlite_file(ui_services)))
        model.setData(model.index(row), "A better title")  # as the inline editor does
        assert window.toast.isVisible() and window.toast.label.text() == WAITING_TEXT
        QTimer.singleShot(500, lock.close)
        qtbot.waitUntil(
            lambda: ui_services.threads.get(me, thread_id).title == "A better title",
            timeout=20_000,
        )
    assert window.windowTitle().startswith("A better title")


def test_an_import_that_fills_the_disk_says_so_and_keeps_nothing(
    qtbot: QtBot, tmp_path: Path
) -> None:
    source = write_export(tmp_path / "big.json", 20_000)  # ~2x the small disk's room
    with small_disk(tmp_path / "disk") as disk:
        database = disk.path / "chatdesk.db"
        store = open_store(f"sqlite:///{database}")
        window: MainWindow | None = None
        try:
            services = Services(store)
            me = services.users.ensure()
            kept = services.threads.create(me, "kept").id
            services.messages.send(me, kept, "already here", triggers_execution=False)
            window = MainWindow(services, me)
            qtbot.addWidget(window)
            window.show()
            actions = window.chat_actions
            with GuiLagMonitor().measuring() as stalls:
                assert actions.import_chat(str(source)) is not None
                qtbot.waitUntil(lambda: actions.import_task is None, timeout=120_000)
            said = window.toast.label.text()
            assert said.startswith("Could not import big.json: The disk"), said
            assert "full" in said
            assert stalls.app_lag_ms < STALL_BUDGET_S * 1000, stalls.describe()
            assert [t.title for t in services.threads.list(me)] == ["kept"]
            assert _contents(services, me, kept) == ["already here"]
        finally:
            if window is not None:
                window.close()
            store.close()
        with sqlite3.connect(database) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_settings_that_cannot_be_written_say_so_and_stay_in_the_dialog(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("CHATDESK_DATA_DIR", str(disk.path))
        settings = UiSettings()
        settings.font_size = 11
        assert settings.sync()
        dialog = SettingsDialog(UiSettings(), [])
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.font_spin.setValue(17)
        disk.fill()
        assert not dialog.save()
        assert dialog.error_label.isVisible()
        assert "could not be written" in dialog.error_label.text()
        assert dialog.font_spin.value() == 17  # the choice is still there to save again
        disk.free()
        assert dialog.save()
        assert UiSettings().font_size == 17
        dialog.close()


def test_a_delete_that_meets_a_busy_database_stays_pending_and_lands_later(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    thread_id = _open_thread(window, ui_services, me)
    window.on_delete(thread_id)
    assert window.thread_model.is_hidden(thread_id)
    with contextlib.ExitStack() as lock:
        lock.enter_context(hold_exclusive_lock(sqlite_file(ui_services)))
        window.pending_deletes.commit(thread_id)  # Undo expires while the lock is held
        assert window.pending_deletes.pending() == [thread_id]
        assert window.thread_model.is_hidden(thread_id)  # still hidden, still undoable
        QTimer.singleShot(500, lock.close)
        with qtbot.waitSignal(window.pending_deletes.committed, timeout=20_000):
            pass
    assert [t.id for t in ui_services.threads.list(me)] == []


def test_a_send_into_a_damaged_schema_says_so_and_keeps_the_text(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    _open_thread(window, ui_services, me)
    with sqlite3.connect(sqlite_file(ui_services)) as raw:  # another program breaks it
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("DROP TABLE messages")
    _send(qtbot, window, "into a broken database")
    shown = window.composer.error_label.text()
    assert window.composer.error_label.isVisible()
    assert "damaged" in shown and "no such table: messages" in shown and "kept here" in shown
    assert window.composer.text() == "into a broken database"


def test_an_edit_sent_into_a_locked_database_stays_open_with_its_text(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window = make_window()
    thread_id = _open_thread(window, ui_services, me)
    _send(qtbot, window, "first words")
    (original,) = ui_services.messages.list(me, thread_id).messages
    editor = window.message_view.bubble_editor
    assert editor.open_on(original.id)
    editor.edit.setPlainText("better words")
    with hold_exclusive_lock(sqlite_file(ui_services)):
        qtbot.mouseClick(editor.send_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "busy" in window.toast.label.text(), timeout=20_000)
    assert editor.isVisible() and editor.message_id == original.id
    assert editor.edit.toPlainText() == "better words"
    assert _contents(ui_services, me, thread_id) == ["first words"]
    qtbot.mouseClick(editor.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not editor.isVisible(), timeout=10_000)
    assert _contents(ui_services, me, thread_id) == ["better words"]  # the path shown
    assert ui_services.messages.get(me, original.id).content == "first words"  # version 1
