"""The Claude reader: lines and trees, content parts, attachments, times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatdesk.services.foreign import claude
from chatdesk.services.foreign.chat import FormatError, Source
from chatdesk.vocabulary import Role

from .helpers import assert_parents_first, by_ref, fixture, read, read_json

NAME = "claude-conversations.json"


def test_messages_without_parents_are_a_line_in_file_order() -> None:
    chat = read(claude.read_chats, NAME)[0]
    assert chat.source is Source.CLAUDE
    assert chat.source_id == "c-line"
    assert chat.title == "Summarise the report"
    assert [(m.ref, m.parent, m.role) for m in chat.messages] == [
        ("m1", None, Role.USER),
        ("m2", "m1", Role.ASSISTANT),
    ]
    assert chat.current_leaf is None


def test_times_are_utc_and_a_time_without_zone_is_taken_as_utc() -> None:
    chat = read(claude.read_chats, NAME)[0]
    assert chat.created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert chat.updated_at == datetime(2024, 6, 1, 8, 5, tzinfo=UTC)  # +02:00
    assert by_ref(chat)["m2"].created_at == datetime(2024, 6, 1, 10, 0, 5, tzinfo=UTC)


def test_extracted_attachment_text_is_kept_and_files_become_notes() -> None:
    question = by_ref(read(claude.read_chats, NAME)[0])["m1"]
    assert question.content == (
        "Summarise this, please.\n\nAttached file “notes.txt”:\n\n"
        "````\nQ3 revenue grew by 4%.\n```\nraw\n```\n````"
    )
    assert question.notes == (
        "Attachment “scan.pdf” was not in the export.",
        "File “photo.png” was not in the export.",
    )


def test_thinking_is_quoted_before_the_answer() -> None:
    answer = by_ref(read(claude.read_chats, NAME)[0])["m2"]
    assert answer.content == (
        "*Thinking:*\n> The notes say 4%.\n> Keep it short.\n\nRevenue grew 4% in Q3."
    )


def test_parent_uuids_make_a_tree_with_versions_and_the_current_leaf() -> None:
    chat = read(claude.read_chats, NAME)[1]
    assert [(m.ref, m.parent) for m in chat.messages] == [
        ("t1", None),  # the all-zero parent is the root
        ("t3", "t1"),
        ("t4a", "t3"),
        ("t4b", "t3"),
    ]
    assert chat.current_leaf == "t4b"
    assert chat.title == "What is the weather in Paris?"  # no name: the first question
    assert_parents_first(chat)


def test_tool_use_and_results_are_named_with_their_data() -> None:
    reply = by_ref(read(claude.read_chats, NAME)[1])["t3"]
    assert reply.content == (
        'Call to “web_search”:\n\n```json\n{\n  "query": "weather Paris",\n  "limit": 3\n}\n```'
        "\n\nOutput of “web_search”:\n\n```\nParis: 18C, rain\n```"
        "\n\nIt is 18C and raining in Paris."
    )
    assert reply.extra == {"tools": ["web_search"]}
    assert reply.notes == ("A part of type “token_budget” could not be shown.",)


def test_a_message_without_parts_is_its_text() -> None:
    assert by_ref(read(claude.read_chats, NAME)[1])["t4a"].content == "And tomorrow?"


def test_a_failed_tool_says_error() -> None:
    data = fixture(NAME)[1:2]
    data[0]["chat_messages"][0]["content"][1]["is_error"] = True
    reply = by_ref(read_json(claude.read_chats, data)[0])["t3"]
    assert "Error from “web_search”:" in reply.content


def test_an_unknown_sender_is_refused_with_its_place() -> None:
    data = fixture(NAME)[:1]
    data[0]["chat_messages"][1]["sender"] = "robot"
    with pytest.raises(FormatError) as caught:
        read_json(claude.read_chats, data)
    assert caught.value.place == "conversations[0].chat_messages[1].sender"


def test_a_chatgpt_file_is_refused() -> None:
    with pytest.raises(FormatError, match="not a Claude conversation"):
        read(claude.read_chats, "chatgpt-conversations.json")
