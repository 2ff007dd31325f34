"""pytest plugin shipped to people who test chatdesk (registered under ``pytest11``).

Fixtures:
    chatdesk_window: the real, shown main window on a fresh data directory under
        ``tmp_path``, wired to the real coordinator and crew worker.
    chatdesk_app: the ``ChatdeskApp`` behind it (services, coordinator, worker).
    scripted_llm: what the model answers. Queue replies with ``scripted_llm.reply(...)``;
        each run takes the next one. CrewAI itself runs for real in the worker process;
        only the model is scripted. With ``CHATDESK_LLM_MODEL`` set, the real model
        configured by the ``CHATDESK_LLM_*`` variables answers instead.
    chatdesk_loop: the asyncio (qasync) loop; it runs whenever Qt processes events, so
        ``qtbot.waitSignal``/``waitUntil`` also drive chatdesk's asyncio tasks.

The crew worker (CrewAI takes ~3 s to import) is started once per test session and
shared: runs are independent of each other, so tests stay isolated.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chatdesk.app import ChatdeskApp
    from chatdesk.engine.client import WorkerClient
    from chatdesk.engine.protocol import ModelConfig
    from chatdesk.services.records import ThreadRecord
    from chatdesk.ui.main_window import MainWindow

OFFSCREEN_NOISE = r"This plugin does not support propagateSizeHints\(\)"
"""The offscreen platform's one warning, about itself; every other Qt warning counts."""
APP_FIXTURES = {"chatdesk_window", "chatdesk_app"}
SCRIPTED_TIMEOUT_S = 20.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if APP_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


class ScriptedLLM:
    """The replies the scripted model gives, one per run, in order.

    A reply is a string, or a dict with ``text`` and optionally ``chunk_size`` (how
    much text each streamed chunk carries), ``delay_s`` (pause between chunks),
    ``start_delay_s``, ``error`` (fail with this message) or ``echo`` (answer with the
    prompt the model received). When the queue is empty the model answers a fixed
    default reply.
    """

    def __init__(self) -> None:
        self._replies: deque[Any] = deque()
        self.runs = 0

    def reply(self, *replies: str | dict[str, Any]) -> None:
        """Queue replies for the next runs."""
        self._replies.extend(replies)

    def next_script(self) -> tuple[Any, ...]:
        self.runs += 1
        return (self._replies.popleft(),) if self._replies else ()

    def resolve(self, thread: ThreadRecord) -> ModelConfig | None:
        """Model resolver: the scripted model, or the real one when the env names one."""
        from chatdesk.engine.protocol import ModelConfig
        from chatdesk.runs.providers import ENV_MODEL

        if os.environ.get(ENV_MODEL):
            from chatdesk.runs.model_choice import make_model_resolver

            return make_model_resolver(dict)(thread)
        return ModelConfig(
            model="scripted", script=self.next_script(), timeout_s=SCRIPTED_TIMEOUT_S
        )


@pytest.fixture
def scripted_llm() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture(scope="session")
def chatdesk_worker(qapp: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerClient]:
    """One crew worker process for the session (see the module docstring)."""
    from chatdesk.engine.client import WorkerClient

    worker = WorkerClient(data_dir=tmp_path_factory.mktemp("chatdesk-worker"))
    worker.start()
    yield worker
    worker.shutdown()


@pytest.fixture
def chatdesk_app(
    qtbot: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chatdesk_loop: asyncio.AbstractEventLoop,
    chatdesk_worker: WorkerClient,
    scripted_llm: ScriptedLLM,
) -> Iterator[ChatdeskApp]:
    """A running chatdesk on a fresh data directory, its window shown."""
    from chatdesk.app import ChatdeskApp
    from chatdesk.config import data_dir, database_url
    from chatdesk.store.migrate import open_store

    monkeypatch.setenv("CHATDESK_DATA_DIR", str(tmp_path / "chatdesk-data"))
    monkeypatch.delenv("CHATDESK_DATABASE_URL", raising=False)
    directory = data_dir()
    app = ChatdeskApp(
        open_store(database_url(directory)),
        directory,
        resolve_model=scripted_llm.resolve,
        worker=chatdesk_worker,
    )
    qtbot.addWidget(app.window)
    with qtbot.waitExposed(app.window):
        app.show()
    yield app
    app.close()


@pytest.fixture
def chatdesk_window(chatdesk_app: ChatdeskApp) -> MainWindow:
    """The shown main window (``chatdesk_app.window``)."""
    return chatdesk_app.window


@pytest.fixture
def chatdesk_loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop marked as running on top of the Qt event loop pytest-qt spins."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            from PySide6.QtCore import QCoreApplication

            for _ in range(20):
                QCoreApplication.processEvents()
                if all(task.done() for task in pending):
                    break
        _close_already_running(loop)


def _close_already_running(loop: asyncio.AbstractEventLoop) -> None:
    """Close a qasync loop made with ``already_running=True`` without quitting the app.

    qasync's own ``stop()`` calls ``QApplication.exit()``, which would end the Qt loop
    pytest-qt still needs; this undoes only what the constructor did.
    """
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    loop._after_run_forever()  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)
