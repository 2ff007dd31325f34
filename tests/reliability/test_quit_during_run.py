"""Quitting while a reply streams exits within 2 s and loses nothing.

Two ways out, both through the real app: SIGTERM to a separate app process
(``tests.support.app_harness``, which installs the same signal handling as
``chatdesk.app.main``), and the window's Quit action in this process. Either way the
app and its crew worker are gone within 2 s, and the database holds the user's
message and the reply's partial text, the run marked cancelled, never left
"processing". Quitting comes a moment after a periodic save (they happen about once a
second), so the reply must also keep the text that streamed in since: more than the
database held when the quit began.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir, database_url
from chatdesk.store.migrate import open_store
from chatdesk.testing import OFFSCREEN_NOISE
from chatdesk.testkit.fake_openai import FakeOpenAIServer, reply, running_server
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role
from tests.reliability.test_crash_safety import HarnessOutput, _process_gone
from tests.support.processes import die_with_parent

ANSWER = "Nothing of this answer may be lost when chatdesk quits mid-sentence. " * 8
REPO = Path(__file__).resolve().parents[2]
QUIT_LIMIT_S = 2.0
START_TIMEOUT_S = 60.0
AFTER_SAVE_S = 0.4
"""How long after a periodic save to quit: text has streamed since, none saved yet."""


@pytest.fixture
def slow_server() -> Iterator[FakeOpenAIServer]:
    """A model that streams :data:`ANSWER` for about 20 s (3 characters per 50 ms)."""
    text = f"Thought: I can answer.\nFinal Answer: {ANSWER}"
    with running_server([reply(text, chunk_size=3, delay_s=0.05)]) as server:
        yield server


def _reply_rows(database: Path) -> list[tuple[str, str, str, str | None]]:
    """(role, content, message status, execution status) of every message, in order."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        return list(
            connection.execute(
                "SELECT m.role, m.content, m.status, e.status FROM messages m "
                "LEFT JOIN executions e ON e.id = m.execution_id ORDER BY m.id"
            )
        )
    finally:
        connection.close()


def _saved_partial(database: Path) -> str:
    """The reply text the database holds now ("" before the first save)."""
    if not database.exists():
        return ""
    try:
        rows = _reply_rows(database)
    except sqlite3.OperationalError:  # not migrated yet
        return ""
    return next((content for role, content, *_ in rows if role == "assistant"), "") or ""


def _check_kept(database: Path, before: str) -> str:
    """The database is sound and holds the message and the cancelled partial reply."""
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()
    rows = _reply_rows(database)
    assert len(rows) == 2, rows
    (user_role, question, user_status, _), (role, partial, status, run_status) = rows
    assert (user_role, question) == (Role.USER.value, "Question 1")
    assert user_status == MessageStatus.CANCELLED.value
    assert role == Role.ASSISTANT.value
    assert (status, run_status) == (MessageStatus.CANCELLED.value, ExecutionStatus.CANCELLED.value)
    assert partial and ANSWER.startswith(partial), partial[:80]
    assert len(ANSWER) > len(partial) > len(before) > 0
    return partial


@pytest.mark.slow
def test_sigterm_mid_reply_exits_in_two_seconds_keeping_the_text(
    tmp_path: Path, slow_server: FakeOpenAIServer
) -> None:
    data = tmp_path / "data"
    database = data / "chatdesk.db"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CHATDESK_LLM_MODEL": "openai/fake-model",
        "CHATDESK_LLM_BASE_URL": slow_server.base_url,
        "CHATDESK_LLM_API_KEY": "test-key",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.app_harness", str(data)],
        preexec_fn=die_with_parent(),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        output = HarnessOutput(child)
        output.wait_for("worker", timeout_s=START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _saved_partial(database) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(AFTER_SAVE_S)
        before = _saved_partial(database)
        assert before, "no partial text reached the database"
        signalled = time.monotonic()
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=10)
        exited_in = time.monotonic() - signalled
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    lines = output.all_lines()
    worker_pid = next(int(line.split()[1]) for line in lines if line.startswith("worker "))
    assert code == 0, lines
    assert "closed" in lines, lines  # aboutToQuit closed the app: not killed by the signal
    assert exited_in < QUIT_LIMIT_S, f"quit took {exited_in:.2f} s"
    assert _process_gone(worker_pid, 0.5), "the worker outlived the app"
    partial = _check_kept(database, before)
    (served,) = slow_server.run_requests()
    assert served.finished.wait(5) and served.client_disconnected
    print(
        f"\nSIGTERM: app and worker gone in {exited_in:.2f} s; reply kept "
        f"{len(partial)} chars (the database had {len(before)} before the signal)"
    )


@pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
def test_quit_action_mid_reply_closes_in_two_seconds_keeping_the_text(
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chatdesk_loop: Any,
    slow_server: FakeOpenAIServer,
) -> None:
    monkeypatch.setenv("CHATDESK_DATA_DIR", str(tmp_path / "quit-data"))
    monkeypatch.setenv("CHATDESK_LLM_MODEL", "openai/fake-model")
    monkeypatch.setenv("CHATDESK_LLM_BASE_URL", slow_server.base_url)
    monkeypatch.setenv("CHATDESK_LLM_API_KEY", "test-key")
    directory = data_dir()
    app = ChatdeskApp(open_store(database_url(directory)), directory)  # its own worker
    qtbot.addWidget(app.window)
    try:
        app.show()
        app.start_worker()
        thread = app.services.threads.create(app.user_id, "quit test")
        app.window.on_thread_selected(thread.id)
        app.services.messages.send(app.user_id, thread.id, "Question 1")
        database = directory / "chatdesk.db"
        qtbot.waitUntil(lambda: bool(_saved_partial(database)), timeout=int(START_TIMEOUT_S * 1000))
        qtbot.wait(int(AFTER_SAVE_S * 1000))
        before = _saved_partial(database)
        worker_pid = app.worker.pid
        assert worker_pid is not None
        started = time.monotonic()
        app.window.quit_action.trigger()  # closes the window; the last one quits the app,
        app.close()  # whose aboutToQuit runs this
        closed_in = time.monotonic() - started
    finally:
        app.close()
    assert not app.window.isVisible()
    assert closed_in < QUIT_LIMIT_S, f"closing took {closed_in:.2f} s"
    assert _process_gone(worker_pid, 0.5), "the worker outlived the app"
    partial = _check_kept(database, before)
    print(
        f"\nQuit action: closed in {closed_in:.2f} s; reply kept {len(partial)} chars "
        f"(the database had {len(before)} before)"
    )


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found.update(int(p) for p in (task / "children").read_text().split())
    return found


@pytest.mark.slow
def test_sigterm_quits_the_real_chatdesk_cleanly(tmp_path: Path) -> None:
    """``python -m chatdesk`` (``chatdesk.app.main``), idle in Qt's loop, quits on SIGTERM."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CHATDESK_DATA_DIR": str(tmp_path)}
    app = subprocess.Popen(
        [sys.executable, "-m", "chatdesk"],
        preexec_fn=die_with_parent(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ((tmp_path / "chatdesk.db").exists() and (workers := _children(app.pid))):
            assert app.poll() is None and time.monotonic() < deadline, "chatdesk never started"
            time.sleep(0.1)
        time.sleep(1.0)  # nothing to do: the window waits for events
        signalled = time.monotonic()
        app.send_signal(signal.SIGTERM)
        code = app.wait(timeout=10)
        exited_in = time.monotonic() - signalled
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert code == 0  # quit through aboutToQuit, not killed by the signal
    assert exited_in < QUIT_LIMIT_S, f"quit took {exited_in:.2f} s"
    assert all(_process_gone(pid, 0.5) for pid in workers), "the worker outlived the app"
    log = "\n".join(p.read_text() for p in tmp_path.rglob("*.log"))
    assert "SIGTERM received: quitting" in log
    print(f"\nchatdesk main: SIGTERM while idle, exited in {exited_in:.2f} s")
