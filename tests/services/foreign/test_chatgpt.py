"""The ChatGPT reader: every mapping it makes from a hand-written conversations.json."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatdesk.services.foreign import chatgpt
from chatdesk.services.foreign.chat import FormatError, Source
from chatdesk.vocabulary import Role

from .helpers import assert_parents_first, by_ref, fixture, read, read_json

NAME = "chatgpt-conversations.json"


def test_a_conversation_keeps_its_tree_versions_and_current_leaf() -> None:
    chat = read(chatgpt.read_chats, NAME)[0]
    assert chat.source is Source.CHATGPT
    assert chat.source_id == "conv-1"
    assert chat.title == "Rolling back a deploy"
    assert [m.ref for m in chat.messages] == [
        "q1", "a1", "a2", "q2", "call", "out", "final", "q2-edit"
    ]  # fmt: skip
    messages = by_ref(chat)
    assert messages["q1"].parent is None  # root, hidden system and instructions left out
    assert [messages[r].parent for r in ("a1", "a2")] == ["q1", "q1"]  # versions, oldest first
    assert messages["q2"].parent == messages["q2-edit"].parent == "a2"
    assert chat.current_leaf == "final"
    assert_parents_first(chat)


def test_roles_models_and_times() -> None:
    chat = read(chatgpt.read_chats, NAME)[0]
    messages = by_ref(chat)
    assert messages["q1"].role is Role.USER
    assert messages["a2"].role is Role.ASSISTANT
    assert messages["a2"].model == "gpt-4o"
    assert messages["a1"].model == "gpt-4"
    assert messages["q1"].model is None
    assert chat.model == "gpt-4o"
    assert messages["q1"].created_at == datetime(2025, 8, 24, 1, 46, 41, tzinfo=UTC)
    assert chat.created_at == datetime.fromtimestamp(1756000000.5, UTC)
    assert chat.updated_at == datetime.fromtimestamp(1756000900.25, UTC)


def test_custom_instructions_become_the_system_prompt_not_a_message() -> None:
    first, second, _ = read(chatgpt.read_chats, NAME)
    assert first.system_prompt == "The user is an SRE.\n\nAnswer concisely."
    assert second.system_prompt == "I cook on weeknights.\n\nBe brief."  # the older shape
    assert all(m.role is not Role.SYSTEM for m in first.messages + second.messages)
    assert all("SRE" not in m.content for m in first.messages)


def test_tool_calls_and_output_become_readable_assistant_messages() -> None:
    messages = by_ref(read(chatgpt.read_chats, NAME)[0])
    call, out = messages["call"], messages["out"]
    assert call.content == "Call to “python”:\n\n```python\nprint(len(log))\n```"
    assert call.extra == {"source_role": "assistant", "tool_call": "python"}
    assert out.role is Role.ASSISTANT
    assert out.content == "Output of “python”:\n\n```\n42\n```"
    assert out.extra == {"source_role": "tool", "tool": "python"}


def test_what_the_export_only_points_at_becomes_notes() -> None:
    first, _, third = read(chatgpt.read_chats, NAME)
    question = by_ref(first)["q2"]
    assert question.content == "What does this log say?"
    assert question.notes == (
        "Image not included in the export: file-abc123",
        "Attachment “report.pdf” was not in the export.",
    )
    drawing = by_ref(third)["dalle"]
    assert drawing.content == "Output of “dalle.text2im”:"
    assert drawing.notes == ("Image not included in the export: file_0099",)


def test_unknown_content_keeps_its_text_and_names_its_type() -> None:
    final = by_ref(read(chatgpt.read_chats, NAME)[0])["final"]
    assert final.content == "The log has 42 lines."
    assert final.notes == ("Content of type “sonic_webpage” is kept as its text only.",)


def test_an_unfinished_reply_says_so() -> None:
    reply = by_ref(read(chatgpt.read_chats, NAME)[0])["a1"]
    assert reply.notes == ("This reply was not finished in ChatGPT.",)


def test_children_before_parents_in_the_file_come_out_parents_first() -> None:
    chat = read(chatgpt.read_chats, NAME)[1]
    assert [(m.ref, m.parent) for m in chat.messages] == [("b1", None), ("b2", "b1")]
    assert chat.current_leaf == "b2"
    assert chat.title == "Weeknight pasta"  # the NUL a title cannot hold is gone
    assert chat.updated_at is None


def test_reasoning_empty_replies_and_quotes() -> None:
    chat = read(chatgpt.read_chats, NAME)[2]
    messages = by_ref(chat)
    assert chat.title == "Draw a lighthouse at dusk"  # no title: the first question
    assert chat.created_at is None
    assert messages["think"].content == "**Picking a palette**\n\nWarm orange sky."
    assert messages["recap"].content == "*Thought for 4 seconds*"
    assert "empty" not in messages  # an empty reply is left out, its child moves up
    assert messages["quote"].parent == "dalle"
    assert messages["quote"].content == (
        "Output of “browser”:\n\nLighthouses\n\nhttps://example.com/lighthouses\n\n"
        "> Built in 1890.\n> Still lit."
    )
    assert chat.current_leaf == "quote"


def test_message_content_keeps_nul() -> None:
    assert by_ref(read(chatgpt.read_chats, NAME)[0])["q2-edit"].content == "Thanks!\x00"


def test_a_current_node_on_a_left_out_node_lands_on_its_kept_ancestor() -> None:
    data = fixture(NAME)[:1]
    data[0]["current_node"] = "ctx"  # the custom instructions: not a message
    chat = read_json(chatgpt.read_chats, data)[0]
    assert chat.current_leaf is None
    data[0]["current_node"] = "gone"
    chat = read_json(chatgpt.read_chats, data)[0]
    assert chat.current_leaf is None
    assert chat.notes == ("The message ChatGPT showed last is not in the export.",)


def test_a_visible_system_message_is_kept_as_one() -> None:
    data = fixture(NAME)[1:2]
    data[0]["mapping"]["b0"]["message"]["metadata"] = {}
    data[0]["mapping"]["b0"]["message"]["content"]["parts"] = ["Speak like a pirate."]
    chat = read_json(chatgpt.read_chats, data)[0]
    assert chat.messages[0].role is Role.SYSTEM
    assert chat.messages[0].content == "Speak like a pirate."
    assert chat.system_prompt is None


def test_another_apps_file_is_refused_with_its_place() -> None:
    with pytest.raises(FormatError) as caught:
        read(chatgpt.read_chats, "claude-conversations.json")
    assert caught.value.place == "conversations[0]"
    assert "not a ChatGPT conversation" in str(caught.value)


def test_hidden_memory_is_left_out_and_plain_code_is_fenced() -> None:
    data = fixture(NAME)[1:2]
    mapping = data[0]["mapping"]
    mapping["b1"]["message"]["metadata"] = {"is_visually_hidden_from_conversation": True}
    mapping["b1"]["message"]["content"] = {
        "content_type": "model_editable_context",
        "model_set_context": "1. Likes anchovies.",
    }
    mapping["b2"]["message"]["content"] = {
        "content_type": "code",
        "language": "unknown",
        "text": "boil(water)",
    }
    (chat,) = read_json(chatgpt.read_chats, data)
    assert [(m.ref, m.parent, m.content) for m in chat.messages] == [
        ("b2", None, "```\nboil(water)\n```")
    ]
