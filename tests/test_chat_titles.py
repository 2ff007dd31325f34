"""A chat's title written by the model after its first reply, through the real window,
worker and CrewAI, with the fake OpenAI server as the model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.engine.protocol import (
    ModelConfig,
    TitleEvent,
    TitleRequest,
    decode_event,
    decode_request,
    encode,
)
from chatdesk.engine.titles import INSTRUCTION, TITLE_MAX_TOKENS, clean_title
from chatdesk.services.threads import title_from_text
from chatdesk.testing import ScriptedLLM
from chatdesk.testkit.fake_openai import FakeOpenAIServer, reply, running_server, status
from chatdesk.vocabulary import MessageStatus, Role

RUN_TIMEOUT_MS = 40_000
ANSWER = "Thought: I can answer.\nFinal Answer: Start at the Louvre, then walk the Seine."
QUESTION = "hi! could you maybe help me plan three days in paris in spring"
FIRST_LINE = title_from_text(QUESTION)  # what the chat is called until the model names it


@pytest.fixture
def model_server(
    monkeypatch: pytest.MonkeyPatch, scripted_llm: ScriptedLLM
) -> Iterator[FakeOpenAIServer]:
    with running_server() as server:
        monkeypatch.setenv("CHATDESK_LLM_MODEL", "openai/fake-model")
        monkeypatch.setenv("CHATDESK_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("CHATDESK_LLM_API_KEY", "sk-test-key-0123456789abcdef")
        scripted_llm.real_model = True  # the model the environment names: this server
        yield server


def _send(qtbot: QtBot, app: ChatdeskApp, text: str) -> None:
    edit = app.window.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def _title(app: ChatdeskApp) -> str:
    thread_id = app.window.current_thread_id
    assert thread_id is not None
    return app.services.threads.get(app.user_id, thread_id).title


def _replies_done(app: ChatdeskApp, count: int) -> bool:
    thread_id = app.window.current_thread_id
    if thread_id is None:
        return False
    messages = app.services.messages.list(app.user_id, thread_id).messages
    done = [m for m in messages if m.role is Role.ASSISTANT and m.status is MessageStatus.COMPLETED]
    return len(done) == count


def test_the_first_reply_gets_the_chat_a_title_from_the_model_once(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, model_server: FakeOpenAIServer
) -> None:
    model_server.set_script(
        [
            reply(ANSWER),
            reply('Title: "Three Days in Paris".'),
            reply("Thought: done.\nFinal Answer: Yes, Versailles fits."),
        ]
    )
    app = chatdesk_app
    _send(qtbot, app, QUESTION)
    qtbot.waitUntil(lambda: _replies_done(app, 1), timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: _title(app) == "Three Days in Paris", timeout=RUN_TIMEOUT_MS)
    _run, title_call = model_server.chat_requests()
    assert title_call.body is not None
    assert title_call.body["max_tokens"] == TITLE_MAX_TOKENS or (
        title_call.body.get("max_completion_tokens") == TITLE_MAX_TOKENS
    )
    system, user = title_call.body["messages"]
    assert system["content"] == INSTRUCTION
    assert QUESTION in user["content"] and "Louvre" in user["content"]
    # the chat list shows it
    rows = app.window.thread_model
    assert any(rows.index(r).data() == "Three Days in Paris" for r in range(rows.rowCount()))

    _send(qtbot, app, "and Versailles?")
    qtbot.waitUntil(lambda: _replies_done(app, 2), timeout=RUN_TIMEOUT_MS)
    qtbot.wait(300)
    assert len(model_server.chat_requests()) == 3  # no second title call
    assert _title(app) == "Three Days in Paris"


def test_a_title_the_person_gave_meanwhile_wins_and_a_failed_call_changes_nothing(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, model_server: FakeOpenAIServer
) -> None:
    app = chatdesk_app
    model_server.set_script([reply(ANSWER), reply("Paris Plans", delay_s=0.3, chunk_size=1)])
    _send(qtbot, app, QUESTION)
    qtbot.waitUntil(lambda: _replies_done(app, 1), timeout=RUN_TIMEOUT_MS)
    thread_id = app.window.current_thread_id
    assert thread_id is not None
    app.services.threads.rename(app.user_id, thread_id, "My trip")  # before the title came
    qtbot.waitUntil(lambda: len(model_server.chat_requests()) == 2, timeout=RUN_TIMEOUT_MS)
    qtbot.wait(4_000)  # the slow title has come and gone by now
    assert _title(app) == "My trip"

    app.window.on_new_thread()
    model_server.set_script([reply(ANSWER), status(500, "the model is down")])
    _send(qtbot, app, QUESTION)
    qtbot.waitUntil(lambda: _replies_done(app, 1), timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(model_server.chat_requests()) == 4, timeout=RUN_TIMEOUT_MS)
    qtbot.wait(500)
    assert _title(app) == FIRST_LINE

    # Settings › "The model names new chats" off: no title request at all
    app.window.settings.model_titles = False
    assert app.window.settings.sync()
    app.window.on_new_thread()
    model_server.set_script([reply(ANSWER), reply("Never Asked")])
    _send(qtbot, app, QUESTION)
    qtbot.waitUntil(lambda: _replies_done(app, 1), timeout=RUN_TIMEOUT_MS)
    qtbot.wait(1_500)  # a title request would have reached the server by now
    assert len(model_server.chat_requests()) == 5
    assert _title(app) == FIRST_LINE


def test_the_scripted_model_gets_no_title_call(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    scripted_llm.reply("Sure.")
    scripted_llm.reply("A second answer the title must not take.")
    app = chatdesk_app
    _send(qtbot, app, QUESTION)
    qtbot.waitUntil(lambda: _replies_done(app, 1), timeout=RUN_TIMEOUT_MS)
    qtbot.wait(300)
    assert _title(app) == FIRST_LINE


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ('"Three Days in Paris"', "Three Days in Paris"),
        ("Title: **Spring in Paris.**", "Spring in Paris"),
        ("# Paris\n\nmore text", "Paris"),
        ("\n\n  « Voyage à Paris »  \n", "Voyage à Paris"),
        ("...", ""),
        ("", ""),
    ],
)
def test_what_is_kept_of_the_models_answer(answer: str, title: str) -> None:
    assert clean_title(answer) == title


def test_title_messages_cross_the_pipe_intact() -> None:
    request = TitleRequest("t1", ModelConfig(model="openai/x"), "q?", "a.")
    assert decode_request(encode(request)) == request
    event = TitleEvent("t1", title="Trip", error="")
    assert decode_event(encode(event)) == event


def test_a_title_that_echoes_the_key_never_shows_it(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, model_server: FakeOpenAIServer
) -> None:
    key = "sk-test-key-0123456789abcdef"  # what model_server gives the app
    model_server.set_script([reply(ANSWER), reply(f"Paris with {key}")])
    app = chatdesk_app
    _send(qtbot, app, QUESTION)
    qtbot.waitUntil(lambda: _replies_done(app, 1), timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: _title(app) != FIRST_LINE, timeout=RUN_TIMEOUT_MS)
    assert _title(app).startswith("Paris with") and key not in _title(app)
