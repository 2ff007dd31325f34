"""How many chatdesk files a sent message and a streamed chunk run through (GUI thread).

A measure for refactorings (issue 14): fewer files on these two paths means one
behaviour lives in fewer places. Run with ``-s`` to see the files; with
``CHATDESK_CODE_PATHS=out.json`` the figures are also written there.

- sent: from the composer's ``send_requested`` emission to the commit that writes the
  execution row, in the open chat (``sent_new_chat``: the first message, which makes
  the chat);
- chunk: from the worker client's ``event_received`` emission of a mid-reply chunk to
  the message model's ``dataChanged`` naming the reply's content.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import event
from sqlalchemy.orm import Session

from chatdesk.app import ChatdeskApp
from chatdesk.engine.protocol import ChunkEvent
from chatdesk.store.models import Execution
from chatdesk.testing import ScriptedLLM, send, wait_for_reply
from chatdesk.ui.chat.message_model import MessageRoles
from tests.support.code_paths import CodePath

CHUNK_TO_TRACE = 2
"""The chunk measured: a mid-reply one (the first also moves "Thinking" to "Writing"),
arriving before the first once-a-second save of the text."""

# The most files each path may run through: a path that spreads out again fails here.
MAX_SENT_FILES = 30
MAX_CHUNK_FILES = 20


def test_files_a_sent_message_and_a_streamed_chunk_run_through(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    window = chatdesk_app.window
    scripted_llm.reply(
        "Hi", {"text": "one two three four five six seven", "chunk_size": 4, "delay_s": 0.2}
    )
    path = CodePath()
    marks: dict[str, int] = {}
    phase = ["new_chat"]

    def sent(_text: str) -> None:
        marks.setdefault(f"sent_{phase[0]}", path.mark_emit())

    def flushed(session: Session, _context: Any) -> None:
        if any(isinstance(item, Execution) for item in session.new):
            session.info["execution_written"] = True

    def committed(session: Session) -> None:
        if session.info.pop("execution_written", False):
            marks.setdefault(f"written_{phase[0]}", path.mark_now())

    chunks: list[ChunkEvent] = []

    def arrived(worker_event: object) -> None:
        if isinstance(worker_event, ChunkEvent) and phase[0] == "open_chat":
            chunks.append(worker_event)
            if len(chunks) == CHUNK_TO_TRACE:
                marks["chunk"] = path.mark_emit()

    def shown(first: Any, _last: Any, roles: list[int]) -> None:
        wanted = "chunk" in marks and "shown" not in marks and MessageRoles.Content in roles
        if wanted and first.data(MessageRoles.Role) == "assistant":
            marks["shown"] = path.mark_emit()

    window.composer.send_requested.connect(sent)
    chatdesk_app.worker.event_received.connect(arrived)
    window.message_model.dataChanged.connect(shown)
    event.listen(Session, "after_flush", flushed)
    event.listen(Session, "after_commit", committed)
    try:
        with path.recording():
            send(qtbot, window, "Hello")
            wait_for_reply(qtbot, window)
            phase[0] = "open_chat"
            send(qtbot, window, "Count to seven")
            qtbot.waitUntil(lambda: "shown" in marks, timeout=30_000)
    finally:
        event.remove(Session, "after_flush", flushed)
        event.remove(Session, "after_commit", committed)
        chatdesk_app.worker.event_received.disconnect(arrived)
    wait_for_reply(qtbot, window)

    figures = {
        "sent": path.files(marks["sent_open_chat"], marks["written_open_chat"]),
        "sent_new_chat": path.files(marks["sent_new_chat"], marks["written_new_chat"]),
        "chunk": path.files(marks["chunk"], marks["shown"]),
    }
    for name, files in figures.items():
        print(f"\n{name}: {len(files)} files\n  " + "\n  ".join(files))
    out = os.environ.get("CHATDESK_CODE_PATHS")
    if out:
        counts = {name: len(files) for name, files in figures.items()}
        Path(out).write_text(json.dumps({"counts": counts, "files": figures}, indent=2))
    assert 0 < len(figures["sent"]) <= len(figures["sent_new_chat"]) <= MAX_SENT_FILES
    assert 0 < len(figures["chunk"]) <= MAX_CHUNK_FILES
