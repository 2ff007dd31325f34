"""pytest plugin shipped to people who test chatdesk (registered under ``pytest11``).

Fixtures:
    chatdesk_window: the real, shown main window on a fresh data directory under
        ``tmp_path``, wired to the real coordinator and crew worker.
    chatdesk_app: the ``ChatdeskApp`` behind it (services, coordinator, worker).
    scripted_llm: what the model answers. Queue replies with ``scripted_llm.reply(...)``;
        each run takes the next one. CrewAI itself runs for real in the worker process;
        only the model is scripted. With ``--chatdesk-real-model``, the real model
        configured by the ``CHATDESK_LLM_*`` variables answers instead.
    chatdesk_loop: the asyncio (qasync) loop; it runs whenever Qt processes events, so
        ``qtbot.waitSignal``/``waitUntil`` also drive chatdesk's asyncio tasks.

Options:
    --chatdesk-real-model: the model the ``CHATDESK_LLM_*`` variables name answers instead of
        the scripted one (a variable set in the shell alone changes nothing: tests stay
        offline unless asked). The pytest header says which model answers.

Helpers (``from chatdesk.testing import rows, send, wait_for_reply``) drive the window the
way a person does, by object names and role names, so tests do not copy role lookups.
For attachments: ``attach_files(qtbot, window, path, ...)`` clicks ``attachButton`` and
picks the files, ``drop_files(window, path, ...)`` drops them on the composer (or the
message list), ``chips(window)`` reads ``attachmentChips`` and ``wait_for_chips`` waits
until none is still being added.
For tools: ``use_mcp_servers({...})`` writes the data dir's mcp.json (the ``mcpServers``
object), ``tool_calls(("server_tool", {args}), ...)`` is a scripted reply that calls tools
(native function calling; a ``raw`` ReAct text reply works too), and
``answer_tool_call(qtbot, window, "once" | "chat" | "deny")`` waits for the approval panel
and answers it as a person would, returning what it asked about.

The crew worker (CrewAI takes ~3 s to import) is started once per test session and
shared: runs are independent of each other, so tests stay isolated.

Needs pytest-qt: ``pip install 'chatdesk[testing]'``.
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

OFFSCREEN_NOISE = (
    r"This plugin does not support (propagateSizeHints\(\)|raise\(\)|grabbing the keyboard)"
)
"""The offscreen platform's warnings about itself (it cannot raise a window or grab the
keyboard, as a floating panel or a popup asks); every other Qt warning counts."""
APP_FIXTURES = {"chatdesk_window", "chatdesk_app"}
SCRIPTED_TIMEOUT_S = 20.0


REAL_MODEL_OPTION = "--chatdesk-real-model"
PYTEST_QT = "pytest-qt"
MISSING_PYTEST_QT = (
    "chatdesk's fixtures drive the window with pytest-qt, which is not installed or not "
    "enabled here; install it with: pip install 'chatdesk[testing]'"
)
OUR_FIXTURES = APP_FIXTURES | {"scripted_llm", "chatdesk_loop", "chatdesk_worker"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("chatdesk").addoption(
        REAL_MODEL_OPTION,
        action="store_true",
        help="answer with the model CHATDESK_LLM_MODEL/_BASE_URL/_API_KEY name, not the "
        "scripted one",
    )


def pytest_report_header(config: pytest.Config) -> str:
    """One line saying which model answers, so a real model is never used by surprise."""
    model = os.environ.get("CHATDESK_LLM_MODEL", "").strip()
    if config.getoption(REAL_MODEL_OPTION):
        if not model:
            raise pytest.UsageError(
                f"{REAL_MODEL_OPTION} needs CHATDESK_LLM_MODEL (and _BASE_URL/_API_KEY) set"
            )
        return f"chatdesk: the real model {model} answers ({REAL_MODEL_OPTION})"
    ignored = f"; CHATDESK_LLM_MODEL={model} is ignored without {REAL_MODEL_OPTION}"
    return "chatdesk: the scripted model answers" + (ignored if model else "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    uses_us = False
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        uses_us = uses_us or bool(OUR_FIXTURES & fixtures)
        if APP_FIXTURES & fixtures:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))
    if uses_us and not config.pluginmanager.hasplugin(PYTEST_QT):
        raise pytest.UsageError(MISSING_PYTEST_QT)


class _OneRun:
    """Several model answers for one run (``ScriptedLLM.run``)."""

    def __init__(self, answers: tuple[Any, ...]) -> None:
        self.answers = answers


class ScriptedLLM:
    """The replies the scripted model gives, one per run, in order.

    A reply is a string, or a dict with ``text`` and optionally ``chunk_size`` (how
    much text each streamed chunk carries), ``delay_s`` (pause between chunks),
    ``start_delay_s``, ``error`` (fail with this message) or ``echo`` (answer with the
    prompt the model received). When the queue is empty the model answers a fixed
    default reply. ``run(...)`` queues several model answers for *one* run (a run with
    tools asks the model again after each call: ``run(tool_calls(...), "final")``).
    """

    def __init__(self, real_model: bool = False) -> None:
        self._replies: deque[Any] = deque()
        self.runs = 0
        self.real_model = real_model

    def reply(self, *replies: str | dict[str, Any]) -> None:
        """Queue replies for the next runs."""
        self._replies.extend(replies)

    def run(self, *answers: str | dict[str, Any]) -> None:
        """Queue the model's answers for the next run, one per model call in it."""
        self._replies.append(_OneRun(answers))

    def next_script(self) -> tuple[Any, ...]:
        self.runs += 1
        if not self._replies:
            return ()
        item = self._replies.popleft()
        return item.answers if isinstance(item, _OneRun) else (item,)

    def resolve(self, thread: ThreadRecord) -> ModelConfig | None:
        """Model resolver: the scripted model, or the real one when the env names one."""
        from chatdesk.engine.protocol import ModelConfig

        if self.real_model:
            from chatdesk.runs.model_choice import make_model_resolver

            return make_model_resolver(dict)(thread)
        return ModelConfig(
            model="scripted", script=self.next_script(), timeout_s=SCRIPTED_TIMEOUT_S
        )


@pytest.fixture
def scripted_llm(request: pytest.FixtureRequest) -> ScriptedLLM:
    return ScriptedLLM(real_model=bool(request.config.getoption(REAL_MODEL_OPTION)))


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


# -- helpers for tests -----------------------------------------------------------------

MESSAGE_FIELDS = ("messageId", "role", "content", "status")
VERSION_FIELDS = ("messageId", "content", "parentId", "versionIndex", "versionCount")
"""``rows(window, VERSION_FIELDS)``: where each message shown stands among its versions."""
REPLY_TIMEOUT_MS = 30_000


def rows(window: MainWindow, fields: tuple[str, ...] = MESSAGE_FIELDS) -> list[dict[str, Any]]:
    """The messages the window shows, oldest first, as ``{role name: value}`` dicts."""
    from PySide6.QtWidgets import QListView

    view = window.findChild(QListView, "messageList")
    assert view is not None, "no messageList in this window"
    model = view.model()
    roles = {bytes(name.data()).decode(): role for role, name in model.roleNames().items()}
    return [
        {field: model.index(row, 0).data(roles[field]) for field in fields}
        for row in range(model.rowCount())
    ]


def flip_version(window: MainWindow, message_id: int, step: int) -> bool:
    """Show the version ``step`` places from ``message_id`` (-1: the one before), as its
    ``‹ ›`` arrows or Alt+Left/Right would; False if there is none that way."""
    from PySide6.QtCore import QObject

    switcher = window.findChild(QObject, "versionSwitcher")
    assert switcher is not None, "no versionSwitcher in this window"
    return bool(switcher.flip(message_id, step))  # type: ignore[attr-defined]


def send(qtbot: Any, window: MainWindow, text: str) -> None:
    """Type ``text`` into the composer and press Enter, as a person would."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPlainTextEdit

    composer = window.findChild(QPlainTextEdit, "composer")
    assert composer is not None, "no composer in this window"
    composer.setFocus()
    qtbot.keyClicks(composer, text)
    qtbot.keyClick(composer, Qt.Key.Key_Return)


def wait_for_reply(
    qtbot: Any, window: MainWindow, timeout_ms: int = REPLY_TIMEOUT_MS
) -> dict[str, Any]:
    """Wait until the newest message is a reply that has ended; returns its row.

    Ended means completed, failed or cancelled: a test then asserts which it expected.
    """
    ended = {"completed", "failed", "cancelled"}

    def last_reply_ended() -> bool:
        shown = rows(window)
        return bool(shown) and shown[-1]["role"] == "assistant" and shown[-1]["status"] in ended

    qtbot.waitUntil(last_reply_ended, timeout=timeout_ms)
    return rows(window)[-1]


# -- attachments -----------------------------------------------------------------------

CHIP_FIELDS = ("fileName", "mimeType", "sizeBytes", "state")
ATTACH_TIMEOUT_MS = 20_000


def chips(window: MainWindow, fields: tuple[str, ...] = CHIP_FIELDS) -> list[dict[str, Any]]:
    """The files above the composer (``attachmentChips``) as ``{role name: value}`` dicts;
    ``state`` is ``adding``, ``reading`` (a document's text), ``ready`` or ``failed``."""
    from PySide6.QtWidgets import QListView

    view = window.findChild(QListView, "attachmentChips")
    assert view is not None, "no attachmentChips in this window"
    model = view.model()
    roles = {bytes(name.data()).decode(): role for role, name in model.roleNames().items()}
    return [
        {field: model.index(row, 0).data(roles[field]) for field in fields}
        for row in range(model.rowCount())
    ]


def wait_for_chips(
    qtbot: Any, window: MainWindow, timeout_ms: int = ATTACH_TIMEOUT_MS
) -> list[dict[str, Any]]:
    """Wait until no chip is still ``adding`` or ``reading``; returns the chips."""
    qtbot.waitUntil(
        lambda: all(chip["state"] not in ("adding", "reading") for chip in chips(window)),
        timeout=timeout_ms,
    )
    return chips(window)


def attach_files(
    qtbot: Any, window: MainWindow, *paths: str | Path, wait: bool = True
) -> list[dict[str, Any]]:
    """Click ``attachButton`` and pick ``paths`` in its dialog, as a person would; waits
    for the chips to settle unless ``wait`` is False. Returns the chips."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    button = window.findChild(QPushButton, "attachButton")
    assert button is not None, "no attachButton in this window"
    chosen = [str(path) for path in paths]
    window.choose_attachment_paths = lambda: chosen  # type: ignore[method-assign]
    try:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    finally:
        del window.choose_attachment_paths
    return wait_for_chips(qtbot, window) if wait else chips(window)


def drop_files(window: MainWindow, *paths: str | Path, onto: str = "composer") -> bool:
    """Drop ``paths`` (local files, or URLs given as ``str`` with a scheme) on the
    composer or (``onto="messageList"``) the message list; whether the drop was taken."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QAbstractScrollArea, QApplication

    area = window.findChild(QAbstractScrollArea, onto)
    assert area is not None, f"no {onto} in this window"
    urls = [
        QUrl(str(path)) if "://" in str(path) else QUrl.fromLocalFile(str(path)) for path in paths
    ]
    data = QMimeData()
    data.setUrls(urls)
    target = area.viewport()
    at = target.rect().center()
    buttons, keys = Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, data, buttons, keys)
    QApplication.sendEvent(target, enter)  # a drop goes where the drag was taken
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(at), Qt.DropAction.CopyAction, data, buttons, keys)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


# -- tools -----------------------------------------------------------------------------

APPROVAL_BUTTONS = {"once": "toolAllowOnce", "chat": "toolAllowChat", "deny": "toolDeny"}


def use_mcp_servers(servers: dict[str, Any]) -> Path:
    """Write ``servers`` (the ``mcpServers`` object) to the data dir's mcp.json."""
    import json

    from chatdesk.config import data_dir

    path = data_dir() / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2), encoding="utf-8")
    return path


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A scripted reply asking for tools: ``("server_tool", {arguments})`` each (the
    name the model sees is the server's name, ``_``, the tool's)."""
    return {"tool_calls": [{"name": name, "arguments": args} for name, args in calls]}


def answer_tool_call(
    qtbot: Any, window: MainWindow, decision: str = "once", timeout_ms: int = REPLY_TIMEOUT_MS
) -> dict[str, Any]:
    """Wait for the tool approval panel, click ``decision``'s button, return what it
    asked: ``{"server", "tool", "arguments"}``."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFrame, QPushButton

    panel = window.findChild(QFrame, "toolApproval")
    assert panel is not None, "no toolApproval panel in this window"
    qtbot.waitUntil(panel.isVisible, timeout=timeout_ms)
    pending = window.tool_approval.pending
    assert pending is not None
    asked = {"server": pending.server, "tool": pending.tool, "arguments": dict(pending.arguments)}
    button = panel.findChild(QPushButton, APPROVAL_BUTTONS[decision])
    assert button is not None, f"no {APPROVAL_BUTTONS[decision]} button"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return asked
