"""An attached image reaches the model, through the real window, worker and CrewAI.

A person attaches a PNG and sends a question; the Run details show what the model got
(an "Images to the model" step), and a model that cannot see leaves a note under its
reply. The model server is the fake OpenAI one (it records what it receives) or the
scripted model (which cannot see images).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.services.records import ExecutionLogRecord, MessageRecord
from chatdesk.testing import ScriptedLLM, attach_files
from chatdesk.testkit.fake_openai import FakeOpenAIServer, reply, running_server
from chatdesk.ui.chat.message_notes import bubble_text
from chatdesk.ui.trace.trace_text import describe_step
from chatdesk.vocabulary import MessageStatus, Role
from tests.support.attached import png

RUN_TIMEOUT_MS = 40_000
NOTE = "The person attached photo.png (image); this model cannot see images."


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    with running_server() as server:
        yield server


def _ask_with_photo(qtbot: QtBot, app: ChatdeskApp, photo: Path, question: str) -> MessageRecord:
    window = app.window
    attach_files(qtbot, window, photo)
    window.composer.edit.setFocus()
    qtbot.keyClicks(window.composer.edit, question)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: any(m.role is Role.USER for m in _messages(app)), timeout=10_000)
    return next(m for m in _messages(app) if m.role is Role.USER)


def _messages(app: ChatdeskApp) -> list[MessageRecord]:
    thread_id = app.window.current_thread_id
    if thread_id is None:
        return []
    return app.services.messages.list(app.user_id, thread_id).messages


def _wait_reply(qtbot: QtBot, app: ChatdeskApp) -> MessageRecord:
    def ended() -> bool:
        last = _messages(app)[-1]
        return last.role is Role.ASSISTANT and last.status in (
            MessageStatus.COMPLETED,
            MessageStatus.FAILED,
        )

    qtbot.waitUntil(ended, timeout=RUN_TIMEOUT_MS)
    return _messages(app)[-1]


def _shown_step(qtbot: QtBot, app: ChatdeskApp, message: MessageRecord) -> ExecutionLogRecord:
    """Open Run details on the question and find the images step among its rows."""
    window = app.window
    if not window.execution_panel.isVisible():
        window.details_action.trigger()
    window.message_view.select_message(message.id)
    model = window.execution_panel.model
    execution_id = message.execution_id
    assert execution_id is not None

    def labels() -> list[str]:
        run = model.run_index(execution_id)
        return [model.index(r, 3, run).data() for r in range(model.rowCount(run))]

    qtbot.waitUntil(lambda: "Images to the model" in labels(), timeout=RUN_TIMEOUT_MS)
    steps = app.services.executions.logs(app.user_id, execution_id)
    (step,) = [s for s in steps if s.event == "attachments_sent"]
    assert labels().index("Images to the model") == steps.index(step)
    return step


def test_a_vision_model_receives_the_png_and_run_details_say_so(
    qtbot: QtBot,
    chatdesk_app: ChatdeskApp,
    scripted_llm: ScriptedLLM,
    fake_server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CHATDESK_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("CHATDESK_LLM_BASE_URL", fake_server.base_url)
    monkeypatch.setenv("CHATDESK_LLM_API_KEY", "sk-test")
    scripted_llm.real_model = True  # the model the environment names: the fake server
    fake_server.set_script(
        [reply("Thought: I now can give a great answer\nFinal Answer: A small red picture.")]
    )
    photo = png(tmp_path / "photo.png")

    question = _ask_with_photo(qtbot, chatdesk_app, photo, "What is in it?")
    answer = _wait_reply(qtbot, chatdesk_app)

    assert answer.status is MessageStatus.COMPLETED, answer.content
    assert answer.content == "A small red picture."
    assert "notes" not in answer.metadata
    (request,) = fake_server.run_requests()
    assert request.body is not None
    (turn,) = [m for m in request.body["messages"] if m["role"] == "user"]
    urls = [p["image_url"]["url"] for p in turn["content"] if p.get("type") == "image_url"]
    assert urls == ["data:image/png;base64," + base64.b64encode(photo.read_bytes()).decode()]
    step = _shown_step(qtbot, chatdesk_app, question)
    detail = describe_step(step)
    assert "Sent:   as images: the model saw them" in detail
    assert f"photo.png  ·  image/png  ·  {photo.stat().st_size:,} bytes" in detail


def test_a_model_that_cannot_see_is_told_and_the_reply_carries_a_note(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM, tmp_path: Path
) -> None:
    scripted_llm.reply({"echo": True})  # the scripted model answers with its prompt
    photo = png(tmp_path / "photo.png")

    question = _ask_with_photo(qtbot, chatdesk_app, photo, "Describe it")
    answer = _wait_reply(qtbot, chatdesk_app)

    assert answer.status is MessageStatus.COMPLETED
    assert NOTE in answer.content  # what the model read
    assert "base64" not in answer.content
    note = "This model cannot see images: it was told only the names of photo.png."
    assert answer.metadata["notes"] == [note]
    assert bubble_text(answer).endswith(
        "> *This model cannot see images: it was told only the names of photo\\.png\\.*"
    )
    step = _shown_step(qtbot, chatdesk_app, question)
    assert "Sent:   as a note naming them: this model cannot see images" in describe_step(step)


def test_the_images_step_reads_plainly_whatever_it_holds() -> None:
    from datetime import UTC, datetime

    from chatdesk.ui.trace.trace_text import event_label

    def step(detail: dict[str, object]) -> ExecutionLogRecord:
        return ExecutionLogRecord(
            id=1,
            execution_id=1,
            seq=0,
            created_at=datetime.now(UTC),
            event="attachments_sent",
            agent_role=None,
            task_name=None,
            detail=detail,
        )

    assert event_label("attachments_sent") == "Images to the model"
    hostile = describe_step(
        step(
            {
                "sent_as": "<b>telepathy</b>",
                "images": [{"name": "a\nb.png", "mime": None, "bytes": "many"}, "junk", 3],
            }
        )
    )
    assert "Sent:   <b>telepathy</b>" in hostile
    assert "    a b.png  ·  None  ·  size unknown" in hostile
    assert "junk" not in hostile
    empty = describe_step(step({"images": "none", "sent_as": "note"}))
    assert "Images:\n    (none)" in empty
