"""The LibreChat reader: flat and nested exports, agent parts, prompt and model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatdesk.services.foreign import librechat
from chatdesk.services.foreign.chat import FormatError, Source
from chatdesk.services.foreign.detect import detect
from chatdesk.vocabulary import Role

from .helpers import assert_parents_first, by_ref, fixture, read, read_bytes, read_json


def test_a_flat_export_names_parents_and_the_root() -> None:
    (chat,) = read(librechat.read_chats, "librechat-flat.json")
    assert chat.source is Source.LIBRECHAT
    assert chat.source_id == "lc-flat"
    assert chat.title == "Agent with tools"
    assert [(m.ref, m.parent, m.role) for m in chat.messages] == [
        ("l1", None, Role.USER),
        ("l2", "l1", Role.ASSISTANT),
        ("l3", "l1", Role.ASSISTANT),
    ]
    assert chat.system_prompt == "You are a travel agent."
    assert chat.model == "gpt-4o"
    assert chat.created_at == datetime(2024, 5, 1, 16, 35, 11, 530000, tzinfo=UTC)
    assert chat.updated_at == datetime(2024, 5, 1, 16, 35, 20, tzinfo=UTC)


def test_agent_parts_files_and_errors() -> None:
    messages = by_ref(read(librechat.read_chats, "librechat-flat.json")[0])
    assert messages["l3"].content == (
        "*Thinking:*\n> Check flights first.\n\n"
        'Call to “flight_search”:\n\n```json\n{"to":"Lisbon"}\n```\n\n'
        "Output of “flight_search”:\n\n```\n2 flights\n```\n\n"
        "There are two flights to Lisbon."
    )
    assert messages["l3"].notes == ("An image in this message was not in the export.",)
    assert messages["l3"].extra == {"tools": ["flight_search"], "sender": "Travel Agent"}
    assert messages["l3"].model == "gpt-4o"
    assert messages["l1"].notes == ("Attachment “passport.jpg” was not in the export.",)
    assert messages["l2"].notes == (
        "This reply ended with an error in LibreChat.",
        "This reply was not finished in LibreChat.",
    )


def test_a_nested_export_takes_parents_from_the_nesting() -> None:
    (chat,) = read(librechat.read_chats, "librechat-tree.json")
    assert [(m.ref, m.parent) for m in chat.messages] == [
        ("v1", None),
        ("v2", "v1"),
        ("v5", "v2"),  # versions oldest first
        ("v3", "v2"),
        ("v4a", "v3"),
        ("v4b", "v3"),
    ]
    assert chat.model == "gpt-4-turbo"
    assert chat.system_prompt is None
    assert_parents_first(chat)


def test_a_chat_as_deep_as_it_is_long_reads_without_recursion() -> None:
    depth = 5_000
    opening = "".join(
        f'{{"messageId": "m{n}", "isCreatedByUser": {"true" if n % 2 == 0 else "false"}, '
        f'"text": "message {n}", "children": ['
        for n in range(depth)
    )
    data = (
        '{"conversationId": "deep", "recursive": true, "messagesTree": ['
        + opening
        + "]}" * depth
        + "]}"
    ).encode()
    (chat,) = read_bytes(librechat.read_chats, data)
    assert len(chat.messages) == depth
    assert chat.messages[-1].parent == f"m{depth - 2}"


def test_a_list_of_conversations_is_read_too() -> None:
    item = fixture("librechat-tree.json")
    chats = read_json(librechat.read_chats, [item, fixture("librechat-flat.json")])
    assert [chat.source_id for chat in chats] == ["lc-tree", "lc-flat"]


def test_a_file_without_conversation_id_is_refused() -> None:
    with pytest.raises(FormatError, match="not a LibreChat conversation"):
        read_bytes(librechat.read_chats, json.dumps({"messages": []}).encode())


def test_a_deep_nested_export_is_detected_and_read(tmp_path: Path) -> None:
    depth = 1_000
    opening = "".join(
        f'{{"messageId": "m{n}", "isCreatedByUser": true, "text": "m", "children": ['
        for n in range(depth)
    )
    path = tmp_path / "deep.json"
    path.write_text('{"conversationId": "deep", "messagesTree": [' + opening + "]}" * depth + "]}")
    found = detect(path)
    assert found.source is Source.LIBRECHAT
    assert len(next(found.chats(lambda _done: None)).messages) == depth
