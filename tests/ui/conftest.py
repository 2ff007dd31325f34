"""Fixtures for the window's tests: a SQLite store of their own and real windows.

UI tests run on SQLite only (the services are tested on both databases elsewhere).
The offscreen platform warns that it cannot propagate size hints, raise a window or grab
the keyboard; those messages are not about chatdesk, so they are ignored here while every
other Qt warning fails a test.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QCursor
from pytestqt.qtbot import QtBot
from sqlalchemy import insert, update

from chatdesk.services import Services
from chatdesk.store.migrate import Store, open_store
from chatdesk.store.models import Message, Thread
from chatdesk.ui.main_window import MainWindow
from chatdesk.vocabulary import MessageStatus, Role
from tests.support.head_databases import store_at_head

OFFSCREEN_NOISE = (
    r"This plugin does not support (propagateSizeHints\(\)|raise\(\)|grabbing the keyboard)"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def _pointer_away() -> Iterator[None]:
    """Leave the pointer off every window after a test that moved it: hover state left
    from a closed window has made a later test's paging time out."""
    yield
    QCursor.setPos(QPoint(5000, 5000))


@pytest.fixture
def ui_store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store_at_head(url, request)  # a copy of the session's database at head
    store = open_store(url)
    yield store
    store.close()


@pytest.fixture
def ui_services(ui_store: Store) -> Services:
    return Services(ui_store)


@pytest.fixture
def me(ui_services: Services) -> int:
    return ui_services.users.ensure()


@pytest.fixture
def make_window(qtbot: QtBot, ui_services: Services, me: int) -> Iterator[Callable[[], MainWindow]]:
    """Opens real, shown main windows; closes whatever is still open at the end."""
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        window = MainWindow(ui_services, me)
        with qtbot.waitActive(window):
            window.show()
            window.activateWindow()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        window.deleteLater()


def add_messages(store: Store, thread_id: int, user_id: int, count: int) -> None:
    """Write ``count`` completed messages in one transaction (fast fixture data), each
    following the one before at the end of the thread's current path."""
    start = datetime.now(UTC) - timedelta(minutes=count)
    rows = [
        {
            "thread_id": thread_id,
            "user_id": user_id,
            "role": Role.USER if i % 2 == 0 else Role.ASSISTANT,
            "content": f"message number {i}\n\nsome text to make the bubble a little taller",
            "status": MessageStatus.COMPLETED,
            "triggers_execution": False,
            "meta": {},
            "created_at": start + timedelta(minutes=i),
            "updated_at": start + timedelta(minutes=i),
            "chosen_at": start + timedelta(minutes=i),
        }
        for i in range(count)
    ]
    with store.session_factory.begin() as session:
        thread = session.get_one(Thread, thread_id)
        ids = session.scalars(
            insert(Message).returning(Message.id, sort_by_parameter_order=True), rows
        ).all()
        parents = [thread.current_leaf_id, *ids[:-1]]
        session.execute(
            update(Message),
            [{"id": i, "parent_id": p} for i, p in zip(ids, parents, strict=True) if p],
        )
        if ids:
            thread.current_leaf_id = ids[-1]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A real TCP listener on 127.0.0.1 that must never be contacted."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()
