"""Start-up on a database that needs upgrading: a progress window, work off the GUI
thread, and a stop (window closed, SIGTERM) or a failure that leaves the database as it
was. Real SQLite files, real Alembic migrations, through ``_open_store_or_explain``."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from chatdesk.app import _open_store_or_explain
from chatdesk.services import Services
from chatdesk.store.backup import list_backups
from chatdesk.store.connection import create_session_factory, create_store_engine
from chatdesk.store.migrate import Store, downgrade, upgrade
from chatdesk.store.schema import HEAD_REVISION
from chatdesk.ui.setup import upgrade_window
from chatdesk.ui.setup.upgrade_window import UpgradeWindow
from tests.ui.conftest import add_messages

MESSAGES = 40


def _older_database(tmp_path: Path, revision: str) -> str:
    """A chatdesk database at ``revision`` holding a thread of messages.

    Filled at head and migrated down: the models describe only the head schema.
    """
    url = f"sqlite:///{tmp_path / 'chatdesk.db'}"
    engine = create_store_engine(url)
    upgrade(engine)
    store = Store(engine=engine, session_factory=create_session_factory(engine), url=url)
    services = Services(store)
    user = services.users.ensure()
    thread = services.threads.create(user, "kept")
    add_messages(store, thread.id, user, MESSAGES)
    store.close()
    downgrade(create_store_engine(url), revision)
    return url


def _revision(url: str) -> str:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    return str(revision)


def _fts_sql(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        (sql,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'messages_fts'"
        ).fetchone()
    connection.close()
    return str(sql)


def _upgrade_window() -> UpgradeWindow | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, UpgradeWindow) and widget.isVisible():
            return widget
    return None


class Watcher:
    """Polls the GUI while start-up's local event loop runs (a 0 ms timer), so a test
    sees what a person would see, and can act at a given moment."""

    def __init__(self, act: Callable[[UpgradeWindow], None] | None = None) -> None:
        self.polls = 0
        self.seen: list[tuple[bool, str]] = []
        self.steps: list[str] = []
        self._act = act
        self._timer = QTimer()
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def _poll(self) -> None:
        self.polls += 1
        window = _upgrade_window()
        if window is None:
            return
        self.steps = window.steps  # the window's own list: complete after it closes
        self.seen.append((window.isVisible(), window.step_label.text()))
        if self._act is not None:
            self._act(window)

    def stop(self) -> None:
        self._timer.stop()


@pytest.fixture
def critical(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What start-up's problem dialog would have said (it is not shown)."""
    from chatdesk.ui.setup import startup_dialogs

    shown: list[str] = []
    monkeypatch.setattr(startup_dialogs, "tell", lambda _title, message: shown.append(message))
    return shown


@pytest.fixture
def progress_path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts start-ups that went through the progress window, shown at once."""
    monkeypatch.setattr(upgrade_window, "SHOW_AFTER_MS", 0)
    calls: list[str] = []
    real = upgrade_window.open_store_showing_progress

    def counting(url: str, backups: Path, *, without_backup: bool = False) -> Store:
        calls.append(url)
        return real(url, backups, without_backup=without_backup)

    monkeypatch.setattr(upgrade_window, "open_store_showing_progress", counting)
    return calls


def test_an_older_database_opens_behind_the_progress_window(
    qtbot: QtBot, tmp_path: Path, progress_path: list[str], critical: list[str]
) -> None:
    url = _older_database(tmp_path, "0003")
    watcher = Watcher()
    store = _open_store_or_explain(url, tmp_path / "backups")
    watcher.stop()
    assert store is not None and critical == []
    assert progress_path == [url]
    # The window was up while the work ran elsewhere: the GUI loop kept polling.
    assert watcher.seen and all(visible for visible, _ in watcher.seen)
    total = int(HEAD_REVISION) - 3  # the revisions after 0003
    assert watcher.steps[0] == "Checking your chat history"
    assert watcher.steps[1] == "Backing up"
    assert watcher.steps[2] == (
        f"Upgrading (1 of {total}): Prefix indexes for message search, so the words being "
        "typed are found fast"
    )
    assert watcher.steps[3] == (
        f"Upgrading (2 of {total}): Each reply remembers which chatdesk is writing it, so "
        "several can share a database"
    )
    assert watcher.steps[4] == (
        f"Upgrading (3 of {total}): A chat remembers which tools it switched off and which "
        "it allowed without asking"
    )
    assert watcher.steps[5] == (
        f"Upgrading (4 of {total}): Conversations become trees: each message has a parent, "
        "a thread its current leaf"
    )
    assert watcher.steps[6].startswith(watcher.steps[5] + " — copying messages")
    assert len(watcher.steps) == 2 + total + 5  # and the tree revision's five steps
    assert _upgrade_window() is None  # and it went away
    services = Services(store)
    user = services.users.ensure()
    [thread] = services.threads.list(user)
    page = services.messages.list(user, thread.id, limit=MESSAGES + 1)
    assert [m.content for m in page.messages][:1] == [
        "message number 0\n\nsome text to make the bubble a little taller"
    ]
    assert len(page.messages) == MESSAGES
    # Re-indexed with prefix indexes: a two-letter prefix finds every message.
    assert len(services.search.search(user, "nu", limit=MESSAGES + 1)) == MESSAGES
    store.close()
    assert _revision(url) == HEAD_REVISION
    [backup] = list_backups(tmp_path / "backups")
    assert _revision(f"sqlite:///{backup}") == "0003"


def test_steps_name_each_pending_revision(
    qtbot: QtBot, tmp_path: Path, progress_path: list[str], critical: list[str]
) -> None:
    url = _older_database(tmp_path, "0002")
    watcher = Watcher()
    store = _open_store_or_explain(url, tmp_path / "backups")
    watcher.stop()
    assert store is not None
    store.close()
    named = [step.split(":")[0] for step in watcher.steps if " — " not in step]
    total = int(HEAD_REVISION) - 2  # the revisions after 0002
    assert named == [
        "Checking your chat history",
        "Backing up",
        *(f"Upgrading ({n} of {total})" for n in range(1, total + 1)),
    ]


def test_an_up_to_date_database_opens_without_the_window(
    qtbot: QtBot, tmp_path: Path, progress_path: list[str], critical: list[str]
) -> None:
    url = _older_database(tmp_path, HEAD_REVISION)
    watcher = Watcher()
    store = _open_store_or_explain(url, tmp_path / "backups")
    watcher.stop()
    assert store is not None
    store.close()
    assert progress_path == []
    assert watcher.polls == 0  # no event loop ran: it opened right there
    assert not (tmp_path / "backups").exists()


def test_a_new_database_is_created_without_the_window(
    qtbot: QtBot, tmp_path: Path, progress_path: list[str], critical: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'chatdesk.db'}"
    store = _open_store_or_explain(url, tmp_path / "backups")
    assert store is not None
    store.close()
    assert progress_path == []
    assert _revision(url) == HEAD_REVISION


def test_a_failing_migration_is_explained_and_rolled_back(
    qtbot: QtBot,
    tmp_path: Path,
    progress_path: list[str],
    critical: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = _older_database(tmp_path, "0002")
    import alembic.op

    real_create_index = alembic.op.create_index

    def create_index_then_fail(*args: Any, **kwargs: Any) -> None:
        real_create_index(*args, **kwargs)
        raise RuntimeError("simulated failure half way through a migration")

    monkeypatch.setattr(alembic.op, "create_index", create_index_then_fail)
    watcher = Watcher()
    assert _open_store_or_explain(url, tmp_path / "backups") is None
    watcher.stop()
    assert progress_path == [url] and watcher.seen
    assert len(critical) == 1
    assert "failed and was rolled back" in critical[0]
    assert "simulated failure" in critical[0] and "A backup was kept at" in critical[0]
    assert _upgrade_window() is None
    assert _revision(url) == "0002"
    [backup] = list_backups(tmp_path / "backups")
    assert _revision(f"sqlite:///{backup}") == "0002"
    assert str(backup) in critical[0]


@pytest.fixture
def endless_rebuild(monkeypatch: pytest.MonkeyPatch) -> Callable[[], threading.Event]:
    """Once armed, an FTS rebuild (migration 0004's) becomes a statement that never ends
    on its own; the event is set once it runs. Only an interrupt inside SQLite stops it."""
    import alembic.op

    started = threading.Event()
    real_execute = alembic.op.execute

    def arm() -> threading.Event:
        monkeypatch.setattr(alembic.op, "execute", execute)
        return started

    def execute(statement: Any, *args: Any, **kwargs: Any) -> None:
        if "'rebuild'" in str(statement):
            raw = alembic.op.get_bind().connection.driver_connection
            assert raw is not None
            raw.create_function("rebuild_started", 0, lambda: started.set() or 1)
            real_execute(
                "WITH RECURSIVE c(x) AS (SELECT rebuild_started() UNION ALL "
                "SELECT x + 1 FROM c) INSERT INTO messages_fts(rowid, content) "
                "SELECT max(x), 'never' FROM c"
            )
        real_execute(statement, *args, **kwargs)

    return arm


def _assert_left_as_it_was(url: str, tmp_path: Path, fts_before: str) -> None:
    assert _upgrade_window() is None
    assert _revision(url) == "0003"
    db = Path(url.removeprefix("sqlite:///"))
    assert _fts_sql(db) == fts_before  # the dropped FTS table is back: rolled back
    [backup] = list_backups(tmp_path / "backups")
    assert _revision(f"sqlite:///{backup}") == "0003"


def test_closing_the_window_asks_then_stops_and_rolls_back(
    qtbot: QtBot,
    tmp_path: Path,
    progress_path: list[str],
    critical: list[str],
    endless_rebuild: Callable[[], threading.Event],
) -> None:
    url = _older_database(tmp_path, "0003")
    started = endless_rebuild()
    fts_before = _fts_sql(tmp_path / "chatdesk.db")
    story: list[str] = []

    def act(window: UpgradeWindow) -> None:
        if not started.is_set():
            return
        question = window.findChild(QMessageBox, "upgradeStopQuestion")
        if not story:
            window.close()  # the person closes the window mid-migration
            story.append("closed")
        elif story == ["closed"] and question is not None and question.isVisible():
            story.append("asked: " + question.text())
            # "Keep upgrading" is the default: a stray Enter must not stop the upgrade.
            assert question.defaultButton().text() == "Keep upgrading"
            stop = question.findChild(QPushButton, "stopUpgradeButton")
            assert stop is not None
            stop.click()
            story.append("stopping: " + window.step_label.text())

    watcher = Watcher(act)
    assert _open_store_or_explain(url, tmp_path / "backups") is None
    watcher.stop()
    assert story == [
        "closed",
        "asked: Stop the upgrade and quit?",
        "stopping: Stopping… putting your chat history back as it was",
    ]
    assert critical == []  # a stop the person asked for is no error
    _assert_left_as_it_was(url, tmp_path, fts_before)


def test_keep_upgrading_keeps_the_window(
    qtbot: QtBot,
    tmp_path: Path,
    progress_path: list[str],
    critical: list[str],
    endless_rebuild: Callable[[], threading.Event],
) -> None:
    url = _older_database(tmp_path, "0003")
    started = endless_rebuild()
    story: list[str] = []

    def act(window: UpgradeWindow) -> None:
        if not started.is_set():
            return
        question = window.findChild(QMessageBox, "upgradeStopQuestion")
        if not story:
            window.close()
            story.append("closed")
        elif story == ["closed"] and question is not None and question.isVisible():
            question.findChild(QPushButton, "keepUpgradingButton").click()
            story.append("kept")
        elif story == ["closed", "kept"]:
            story.append(f"still up: {window.isVisible()}")
            window.quit()  # end the endless statement the way a signal does

    watcher = Watcher(act)
    assert _open_store_or_explain(url, tmp_path / "backups") is None
    watcher.stop()
    assert story == ["closed", "kept", "still up: True"]


def test_sigterm_during_the_upgrade_stops_it_and_rolls_back(
    qtbot: QtBot,
    tmp_path: Path,
    progress_path: list[str],
    critical: list[str],
    endless_rebuild: Callable[[], threading.Event],
) -> None:
    url = _older_database(tmp_path, "0003")
    started = endless_rebuild()
    fts_before = _fts_sql(tmp_path / "chatdesk.db")
    sent: list[bool] = []

    def act(window: UpgradeWindow) -> None:
        if started.is_set() and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    watcher = Watcher(act)
    assert _open_store_or_explain(url, tmp_path / "backups") is None
    watcher.stop()
    assert sent and critical == []
    assert "Stopping… putting your chat history back as it was" in watcher.steps
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler was put back
    _assert_left_as_it_was(url, tmp_path, fts_before)
