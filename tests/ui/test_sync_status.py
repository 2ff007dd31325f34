"""The window on a shared PostgreSQL: another desktop's chats appear in its thread list
live, and it says quietly when it cannot hear the others (``syncStatus``) until it has
reconnected and caught up. On SQLite the line never shows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from chatdesk.app import ChatdeskApp
from chatdesk.store import listen
from chatdesk.store.migrate import open_store
from chatdesk.ui.threads.thread_model import ThreadRoles
from tests.support.live_clients import live_client


@pytest.fixture
def pg_url(postgres_server: object | None, postgres_at_head: str | None) -> Iterator[str]:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"ui_{uuid.uuid4().hex[:12]}"
    url: str = postgres_server.create_database(name, template=postgres_at_head)  # type: ignore[attr-defined]
    yield url
    postgres_server.drop_database(name)  # type: ignore[attr-defined]


def _app(qtbot: QtBot, url: str, data: Path) -> ChatdeskApp:
    app = ChatdeskApp(open_store(url), data)  # no crew worker: nothing runs here
    qtbot.addWidget(app.window)
    app.show()
    return app


@pytest.mark.postgres
def test_another_desktops_chat_appears_and_a_lost_connection_is_said(
    qtbot: QtBot,
    pg_url: str,
    tmp_path: Path,
    chatdesk_loop: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _app(qtbot, pg_url, tmp_path / "data")
    try:
        status = app.window.findChild(QLabel, "syncStatus")
        assert isinstance(status, QLabel)
        qtbot.waitUntil(lambda: app.live.online is True, timeout=10000)
        assert not status.isVisible()
        with live_client(pg_url, tmp_path / "other", listen=False) as other:
            user = other.services.users.ensure()
            assert user == app.user_id  # one person, two desktops
            thread = other.services.threads.create(user, title="Made on the laptop")
            qtbot.waitUntil(lambda: thread.id in app.window.thread_model.thread_ids(), timeout=5000)
            monkeypatch.setattr(listen, "BACKOFF_S", (1.0,))
            listener = app.live.listener
            assert listener is not None and listener.backend_pid is not None
            with other.services.store.engine.connect() as connection:
                connection.execute(select(func.pg_terminate_backend(listener.backend_pid)))
            qtbot.waitUntil(status.isVisible, timeout=10000)
            assert "Offline" in status.text()
            renamed = other.services.threads.rename(user, thread.id, "Renamed while away")
            qtbot.waitUntil(lambda: not status.isVisible(), timeout=15000)
            model = app.window.thread_model
            qtbot.waitUntil(
                lambda: (
                    model.index(model.thread_ids().index(thread.id)).data(ThreadRoles.Title)
                    == renamed.title
                ),
                timeout=5000,
            )
    finally:
        app.close()


@pytest.mark.postgres
def test_the_open_chat_deleted_on_another_desktop_leaves_the_window_cleanly(
    qtbot: QtBot, pg_url: str, tmp_path: Path, chatdesk_loop: asyncio.AbstractEventLoop
) -> None:
    app = _app(qtbot, pg_url, tmp_path / "data")
    try:
        qtbot.waitUntil(lambda: app.live.online is True, timeout=10000)
        with live_client(pg_url, tmp_path / "other", listen=False) as other:
            user = other.services.users.ensure()
            keep = other.services.threads.create(user, title="Kept")
            doomed = other.services.threads.create(user, title="Doomed")
            other.services.messages.send(user, doomed.id, "bye", triggers_execution=False)
            window = app.window
            qtbot.waitUntil(lambda: doomed.id in window.thread_model.thread_ids(), timeout=5000)
            window.sidebar.select_thread(doomed.id)  # as a click does
            qtbot.waitUntil(lambda: window.message_model.rowCount() == 1, timeout=5000)
            other.services.threads.delete(user, doomed.id)
            qtbot.waitUntil(lambda: window.thread_model.thread_ids() == [keep.id], timeout=5000)
            qtbot.waitUntil(lambda: window.current_thread_id == keep.id, timeout=5000)
            assert window.message_model.rowCount() == 0  # the kept chat is empty
            lone = other.services.threads.create(user, title="Opened from elsewhere")
            other.services.messages.send(user, lone.id, "hi", triggers_execution=False)
            qtbot.waitUntil(lambda: lone.id in window.thread_model.thread_ids(), timeout=5000)
            window.on_thread_selected(lone.id)  # open, as search does, the list not moved
            qtbot.waitUntil(lambda: window.message_model.rowCount() == 1, timeout=5000)
            other.services.threads.delete(user, lone.id)
            qtbot.waitUntil(lambda: window.current_thread_id != lone.id, timeout=5000)
            assert window.message_model.rowCount() == 0
    finally:
        app.close()


def test_on_sqlite_nothing_listens_and_nothing_is_said(
    qtbot: QtBot, tmp_path: Path, chatdesk_loop: asyncio.AbstractEventLoop
) -> None:
    app = _app(qtbot, f"sqlite:///{tmp_path / 'one.db'}", tmp_path / "data")
    try:
        assert app.live.listener is None
        status = app.window.findChild(QLabel, "syncStatus")
        assert isinstance(status, QLabel) and not status.isVisible()
    finally:
        app.close()


@pytest.mark.postgres
def test_the_bench_times_a_write_until_another_window_shows_it(
    qtbot: QtBot, pg_url: str, tmp_path: Path
) -> None:
    from chatdesk.bench.sync_latency import measure_window

    latencies = measure_window(pg_url, 3, tmp_path)
    assert len(latencies) == 3 and all(ms > 0 for ms in latencies)


def test_the_offline_line_keeps_a_narrow_window_narrow(
    qtbot: QtBot, tmp_path: Path, chatdesk_loop: asyncio.AbstractEventLoop
) -> None:
    app = _app(qtbot, f"sqlite:///{tmp_path / 'one.db'}", tmp_path / "data")
    try:
        window = app.window
        before = window.minimumSizeHint().width()
        window.set_sync_online(False)
        assert window.sync_status.isVisible()
        assert window.minimumSizeHint().width() <= before
        assert window.sync_status.minimumSizeHint().width() < 200  # it wraps
        window.set_sync_online(True)
        assert not window.sync_status.isVisible()
    finally:
        app.close()
