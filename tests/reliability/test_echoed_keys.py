"""A provider that echoes the API key back gets none of it kept, shown or exported.

Real providers do it: a 401 quoting "Incorrect API key provided: <key>", a 500 quoting
the request it choked on (headers and all), an error naming the server address with
its credentials. The real app, worker and CrewAI talk to a real HTTP server on
127.0.0.1 that does each of these, with the key coming from each place chatdesk reads
keys from: ``CHATDESK_LLM_API_KEY``, the OS keyring (through the saved settings), and a
base URL carrying it. The key is not shaped like any known token (no ``sk-``), so only
chatdesk's knowledge of its own keys can mask it. Afterwards no byte of it is in the
data directory (database, WAL, logs, settings), on the bubble, or in the JSON and
Markdown exports, and the error still says what the server said.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir, database_url
from chatdesk.engine.client import WorkerClient
from chatdesk.redact import MASK
from chatdesk.store.migrate import open_store
from chatdesk.testing import OFFSCREEN_NOISE
from chatdesk.testkit.fake_openai import running_server, status
from tests.reliability.test_provider_faults import (
    TIMEOUT_S,
    WORKER_READY_MS,
    FaultyProvider,
    assert_clear,
)
from tests.support.keyrings import MemoryKeyring, memory_keyring

__all__ = ["memory_keyring"]  # a fixture used below
pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
KEY = "chatdesk-private-7f3a9b2c41d8e6"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def echoing(
    request: pytest.FixtureRequest,
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chatdesk_loop: Any,
    chatdesk_worker: WorkerClient,
    memory_keyring: MemoryKeyring,
) -> Iterator[FaultyProvider]:
    """The real app with the key from ``request.param``'s source."""
    source = request.param
    with running_server() as server:
        directory = tmp_path / "echo-data"
        monkeypatch.setenv("CHATDESK_DATA_DIR", str(directory))
        monkeypatch.delenv("CHATDESK_DATABASE_URL", raising=False)
        monkeypatch.delenv("CHATDESK_LLM_API_KEY", raising=False)
        monkeypatch.delenv("CHATDESK_LLM_BASE_URL", raising=False)
        monkeypatch.delenv("CHATDESK_LLM_MODEL", raising=False)
        directory = data_dir()
        ini = QSettings(str(directory / "ui.ini"), QSettings.Format.IniFormat)
        ini.setValue("model/timeoutS", TIMEOUT_S)
        if source == "environment":
            monkeypatch.setenv("CHATDESK_LLM_MODEL", "openai/fake-model")
            monkeypatch.setenv("CHATDESK_LLM_BASE_URL", server.base_url)
            monkeypatch.setenv("CHATDESK_LLM_API_KEY", KEY)
        elif source == "keyring":  # saved in Settings: model and address in ui.ini
            ini.setValue("model/provider", "openai")
            ini.setValue("model/model", "openai/fake-model")
            ini.setValue("model/baseUrl", server.base_url)
            memory_keyring.set_password("chatdesk", "api-key:openai", KEY)  # as Settings did
        else:  # the key inside the base URL of a server that is not there
            monkeypatch.setenv("CHATDESK_LLM_MODEL", "openai/fake-model")
            monkeypatch.setenv(
                "CHATDESK_LLM_BASE_URL", f"http://me:{KEY}@127.0.0.1:{_closed_port()}/v1"
            )
            monkeypatch.setenv("CHATDESK_LLM_API_KEY", "unrelated")
        ini.sync()
        app = ChatdeskApp(open_store(database_url(directory)), directory, worker=chatdesk_worker)
        qtbot.addWidget(app.window)
        with qtbot.waitExposed(app.window):
            app.show()
        if not chatdesk_worker.is_ready:
            with qtbot.waitSignal(chatdesk_worker.worker_ready, timeout=WORKER_READY_MS):
                pass
        try:
            yield FaultyProvider(app, server, qtbot)
        finally:
            app.close()


def _assert_kept_nowhere(provider: FaultyProvider, tmp_path: Path) -> None:
    """No byte of the key in the data dir, the bubbles or the exports."""
    app = provider.app
    for row in provider.rows():
        assert KEY not in str(row["content"]) and KEY not in str(row["error"]), row
    thread = app.services.threads.list(app.user_id)[0]
    exports = tmp_path / "exports"
    exports.mkdir()
    app.services.transfer.export_json(app.user_id, thread.id, exports / "chat.json")
    app.services.transfer.export_markdown(app.user_id, thread.id, exports / "chat.md")
    app.close()  # the database and logs flushed and closed, as after a quit
    written = [p for p in (tmp_path / "echo-data").rglob("*") if p.is_file()]
    written += [exports / "chat.json", exports / "chat.md"]
    assert any(p.name == "chatdesk.db" for p in written)
    for path in written:
        assert KEY.encode() not in path.read_bytes(), f"the key is in {path}"


@pytest.mark.parametrize("echoing", ["environment"], indirect=True)
def test_a_401_quoting_the_key_keeps_the_words_not_the_key(
    echoing: FaultyProvider, tmp_path: Path
) -> None:
    outcome = echoing.run([status(401, "Incorrect API key provided: {key}.")])
    assert outcome.status == "failed"
    assert echoing.server.chat_requests()[0].headers.get("Authorization") == f"Bearer {KEY}"
    assert outcome.error is not None
    assert "Incorrect API key provided" in outcome.error and MASK in outcome.error
    assert_clear(outcome.error.replace(MASK, "x"))  # otherwise one plain sentence
    _assert_kept_nowhere(echoing, tmp_path)


@pytest.mark.parametrize("echoing", ["keyring"], indirect=True)
def test_a_500_quoting_the_request_keeps_no_key_from_the_keyring(
    echoing: FaultyProvider, tmp_path: Path
) -> None:
    outcome = echoing.run([status(500, "Could not handle {request} for key {key}")] * 12)
    assert outcome.status == "failed"
    assert echoing.server.chat_requests()[0].headers.get("Authorization") == f"Bearer {KEY}"
    assert outcome.error
    _assert_kept_nowhere(echoing, tmp_path)


@pytest.mark.parametrize("echoing", ["base_url"], indirect=True)
def test_a_key_inside_the_base_url_is_not_shown_with_the_address(
    echoing: FaultyProvider, tmp_path: Path
) -> None:
    outcome = echoing.run([status(500, "never asked")])  # nobody listens there
    assert outcome.status == "failed"
    assert outcome.error and "127.0.0.1" in outcome.error, outcome.error
    _assert_kept_nowhere(echoing, tmp_path)
