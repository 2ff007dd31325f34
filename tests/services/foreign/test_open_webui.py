"""The Open WebUI reader: the history tree, its current leaf, prompts and files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatdesk.services.foreign import open_webui
from chatdesk.services.foreign.chat import FormatError, Source
from chatdesk.vocabulary import Role

from .helpers import assert_parents_first, by_ref, fixture, read, read_json

NAME = "open-webui-export.json"


def test_the_history_is_the_tree_and_current_id_the_leaf() -> None:
    chat = read(open_webui.read_chats, NAME)[0]
    assert chat.source is Source.OPEN_WEBUI
    assert chat.source_id == "owu-1"
    assert chat.title == "Explain recursion"
    assert [(m.ref, m.parent, m.role) for m in chat.messages] == [
        ("o1", None, Role.USER),
        ("o2", "o1", Role.ASSISTANT),  # the older version first
        ("o3", "o1", Role.ASSISTANT),
    ]
    assert chat.current_leaf == "o3"
    assert_parents_first(chat)


def test_models_prompt_and_times() -> None:
    chat = read(open_webui.read_chats, NAME)[0]
    messages = by_ref(chat)
    assert chat.model == "llama3.1:8b"
    assert messages["o3"].model == "qwen2.5:7b"
    assert messages["o1"].model is None
    assert chat.system_prompt == "You are a patient teacher."
    assert chat.created_at == datetime.fromtimestamp(1700000000, UTC)
    assert messages["o2"].created_at == datetime.fromtimestamp(1700000010.5, UTC)


def test_files_images_and_errors_become_notes() -> None:
    messages = by_ref(read(open_webui.read_chats, NAME)[0])
    assert messages["o1"].notes == (
        "An image sent with this message was not imported.",
        "Attachment “slides.pdf” was not imported.",
    )
    assert messages["o2"].notes == (
        "This reply ended with an error in Open WebUI: Ollama: model not found",
    )


def test_content_parts_chat_system_and_title_fallback() -> None:
    chat = read(open_webui.read_chats, NAME)[1]
    first = chat.messages[0]
    assert first.content == "Bonjour"
    assert first.notes == ("An image sent with this message was not imported.",)
    assert chat.system_prompt == "Answer in French."
    assert chat.title == "New Chat"
    assert chat.model is None


def test_one_chat_as_an_object_and_the_inner_chat_alone() -> None:
    item = fixture(NAME)[0]
    (alone,) = read_json(open_webui.read_chats, item)
    assert alone.source_id == "owu-1"
    assert len(alone.messages) == 3
    (inner,) = read_json(open_webui.read_chats, item["chat"])
    assert inner.title == "Explain recursion"
    assert inner.current_leaf == "o3"


def test_a_file_without_history_is_refused() -> None:
    with pytest.raises(FormatError) as caught:
        read_json(open_webui.read_chats, [{"id": "x", "chat": {"messages": []}}])
    assert caught.value.place == "chats[0].chat"
