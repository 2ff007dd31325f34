"""A reply waiting for the crew worker says "Starting the engine…" instead of a silent
"Thinking" (the first reply after a launch waits seconds for CrewAI to load)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir, database_url
from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.main_window import MainWindow

WORKER_READY_TIMEOUT_MS = 120_000  # CrewAI's import on a busy 2-core machine


def _reply_index(window: MainWindow, reply_id: int) -> QModelIndex:
    model = window.message_view.model()
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data(MessageRoles.MessageId) == reply_id:
            return index
    raise AssertionError("the reply is not shown")


def test_a_reply_waiting_for_the_engine_says_so(
    make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Waiting")
    sent = ui_services.messages.send(me, thread.id, "hello")
    assert sent.execution is not None
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id, "")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    delegate = window.message_view.delegate
    index = _reply_index(window, reply.id)
    assert delegate.status_line(index).text.startswith("Thinking")
    window.set_engine_starting(True)
    assert delegate.status_line(index).text.startswith("Starting the engine")
    window.set_engine_starting(False)
    assert delegate.status_line(index).text.startswith("Thinking")


@pytest.mark.slow
def test_the_window_knows_while_a_real_worker_starts(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chatdesk_loop: Any
) -> None:
    monkeypatch.setenv("CHATDESK_DATA_DIR", str(tmp_path / "engine-data"))
    directory = data_dir()
    app = ChatdeskApp(open_store(database_url(directory)), directory)  # its own worker
    qtbot.addWidget(app.window)
    try:
        app.show()
        app.start_worker()
        assert app.window.message_view.delegate.engine_starting
        qtbot.waitUntil(lambda: app.worker.is_ready, timeout=WORKER_READY_TIMEOUT_MS)
        assert not app.window.message_view.delegate.engine_starting
    finally:
        app.close()
