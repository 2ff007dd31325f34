"""Broken and hostile files: each refused with its place, or read safely."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from chatdesk.services.foreign import chatgpt, claude, common, librechat, open_webui
from chatdesk.services.foreign.chat import ForeignMessage, FormatError
from chatdesk.services.foreign.common import Draft, settle
from chatdesk.vocabulary import Role

from .helpers import EXPORTS, by_ref, fixture, read_bytes, read_json

CHATGPT = "chatgpt-conversations.json"


def _refused(reader: Any, data: bytes) -> FormatError:
    with pytest.raises(FormatError) as caught:
        read_bytes(reader, data)
    return caught.value


def test_a_file_cut_short_names_the_conversation_it_ends_in() -> None:
    data = (EXPORTS / CHATGPT).read_bytes()
    cut = data[: data.index(b'"Weeknight')]
    error = _refused(chatgpt.read_chats, cut)
    assert (error.place, error.reason) == ("conversations[1]", "the file ends too soon")


def test_invalid_utf8_mid_file_is_refused_with_its_place() -> None:
    data = (EXPORTS / CHATGPT).read_bytes().replace(b"Puttanesca", b"Puttan\xffsca")
    error = _refused(chatgpt.read_chats, data)
    assert (error.place, error.reason) == ("conversations[1]", "not UTF-8 text")


def test_a_message_over_the_limit_is_refused_with_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(common, "MAX_CONTENT_CHARS", 20)
    error = _refused(chatgpt.read_chats, (EXPORTS / CHATGPT).read_bytes())
    assert error.place == 'conversations[0].mapping["q1"].message'
    assert "30 characters; chatdesk keeps at most 20" in error.reason


def test_a_long_title_is_shortened_at_a_word() -> None:
    data = fixture(CHATGPT)[1:2]
    data[0]["title"] = "word " * 200
    (chat,) = read_json(chatgpt.read_chats, data)
    assert len(chat.title) <= 200
    assert chat.title.endswith("word…")


def test_nesting_past_the_limit_is_refused_before_the_parser_builds_it() -> None:
    deep = b'[{"mapping": {}, "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}]"
    error = _refused(chatgpt.read_chats, deep)
    assert (error.place, error.reason) == ("conversations[0]", "nested more than 64 levels deep")
    quoted = b'[{"mapping": {}, "x": "' + b"[" * 200_000 + b'"}]'  # brackets in text are text
    assert read_bytes(chatgpt.read_chats, quoted)[0].messages == []


def test_tool_input_nested_past_the_limit_is_refused_with_its_place() -> None:
    data = fixture("claude-conversations.json")[1:2]
    nested: Any = 1
    for _ in range(40):
        nested = [nested]
    data[0]["chat_messages"][0]["content"][0]["input"] = nested
    with pytest.raises(FormatError) as caught:
        read_json(claude.read_chats, data)
    assert caught.value.place == "conversations[0].chat_messages[0].content[0]"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1e300", "1e+300"),
        ("-1e18", "-1e+18"),
        ("253402300800", "253402300800"),  # the year 10000
        ('"yesterday"', "yesterday"),
        ("true", "True"),
        ("[1]", "[1]"),
    ],
)
def test_bad_epoch_times_are_refused_with_their_place(value: str, shown: str) -> None:
    data = (
        (EXPORTS / CHATGPT)
        .read_bytes()
        .replace(b'"create_time": 1756000001.0', b'"create_time": ' + value.encode())
    )
    error = _refused(chatgpt.read_chats, data)
    assert error.place == 'conversations[0].mapping["q1"].message.create_time'
    assert error.reason == f"{shown} is not a time"


def test_a_number_past_64_bits_is_refused() -> None:
    data = (EXPORTS / CHATGPT).read_bytes().replace(b"1756000001.0", str(2**70).encode())
    error = _refused(chatgpt.read_chats, data)
    assert error.place == "conversations[0]"
    assert "64 bits" in error.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not a time", "'not a time' is not an ISO 8601 time"),
        ("0001-01-01T00:00:00+01:00", "'0001-01-01T00:00:00+01:00' is out of range"),
        (17, "17 is not a time"),
    ],
)
def test_bad_iso_times_are_refused_with_their_place(value: object, reason: str) -> None:
    data = fixture("claude-conversations.json")[:1]
    data[0]["chat_messages"][1]["created_at"] = value
    with pytest.raises(FormatError) as caught:
        read_json(claude.read_chats, data)
    assert caught.value.place == "conversations[0].chat_messages[1].created_at"
    assert caught.value.reason == reason.replace("'", "")


def test_parent_links_in_a_circle_are_refused() -> None:
    data = fixture(CHATGPT)[1:2]
    data[0]["mapping"]["b0"]["parent"] = "b2"  # b0 -> b2 -> b1 -> b0
    with pytest.raises(FormatError, match="go round in a circle") as caught:
        read_json(chatgpt.read_chats, data)
    assert caught.value.place.startswith("conversations[0].mapping[")
    chats = fixture("open-webui-export.json")[1:]
    chats[0]["chat"]["history"]["messages"]["p1"]["parentId"] = "p1"  # its own parent
    with pytest.raises(FormatError, match="circle") as caught:
        read_json(open_webui.read_chats, chats)
    assert caught.value.place == 'chats[0].chat.history.messages["p1"]'


def test_a_parent_not_in_the_file_makes_a_root_with_a_note() -> None:
    data = fixture(CHATGPT)[1:2]
    data[0]["mapping"]["b0"]["parent"] = "lost"
    data[0]["mapping"]["b2"]["parent"] = "gone"
    (chat,) = read_json(chatgpt.read_chats, data)
    messages = by_ref(chat)
    assert messages["b1"].parent is None  # its parent was left out, whose parent is lost
    assert messages["b1"].notes == ()
    assert messages["b2"].parent is None
    assert messages["b2"].notes == ("The message this one followed (“gone”) is not in the export.",)


def test_an_id_used_twice_is_refused() -> None:
    data = fixture("claude-conversations.json")[:1]
    data[0]["chat_messages"][1]["uuid"] = "m1"
    with pytest.raises(FormatError, match="the id “m1” is used twice") as caught:
        read_json(claude.read_chats, data)
    assert caught.value.place == "conversations[0].chat_messages[1]"
    item = fixture("librechat-flat.json")
    item["messages"][2]["messageId"] = "l1"
    with pytest.raises(FormatError, match="used twice"):
        read_json(librechat.read_chats, item)


def test_nul_and_lone_surrogates_stay_in_content_but_not_in_plain_columns() -> None:
    data = (
        b'[{"title": "A\\u0000B \\ud800", "default_model_slug": "gpt\\u0000-4", "mapping": {'
        b'"u": {"message": {"author": {"role": "user"}, "content": {"content_type": "text",'
        b' "parts": ["x\\ud800y\\u0000z"]}}, "parent": null, "children": []}}}]'
    )
    (chat,) = read_bytes(chatgpt.read_chats, data)
    assert chat.title == "A B \ufffd"
    assert chat.model == "gpt-4"
    assert chat.messages[0].content == "x\ud800y\x00z"


def test_steps_come_between_conversations_and_may_cancel() -> None:
    data = (EXPORTS / CHATGPT).read_bytes()
    steps: list[int] = []
    chats = list(chatgpt.read_chats(_source(data), steps.append))
    assert len(steps) == len(chats) == 3
    assert steps == sorted(steps) and steps[-1] <= len(data)

    class Stop(Exception):
        pass

    def stop(_done: int) -> None:
        raise Stop

    reader = chatgpt.read_chats(_source(data), stop)
    next(reader)
    with pytest.raises(Stop):
        next(reader)


def test_a_big_file_is_read_a_conversation_at_a_time() -> None:
    item = fixture(CHATGPT)[1]
    data = json.dumps([item] * 2_000).encode()
    source = _source(data)
    reader = chatgpt.read_chats(source, lambda _done: None)
    next(reader)
    assert source.tell() < len(data) // 4  # the parser has read only the start


def _source(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def test_settle_puts_any_order_parents_first_without_recursion() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    drafts = [Draft("n0", None, "n0", _message(moment))]
    for n in range(1, 20_000):  # one long line: recursion would overflow
        drafts.append(Draft(f"n{n}", f"n{n - 1}", f"n{n}", _message(moment)))
    random.Random(7).shuffle(drafts)
    settled = settle(drafts, "chat")
    assert [m.ref for m in settled.messages] == [f"n{n}" for n in range(20_000)]


def _message(moment: datetime) -> ForeignMessage:
    return ForeignMessage("", None, Role.USER, "text", moment)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
def test_the_depth_guard_skips_strings_across_reads(size: int) -> None:
    inner = '"x\\"[[[{{\\\\", "\\\\\\\\[[[", "\\\\"'
    text = ("[" * 60 + inner + "]" * 60).encode()
    reader = common.GuardedReader(_source(text), limit=62)
    while reader.read(size):
        pass
    assert reader._depth == 0
    deep = common.GuardedReader(_source(b'["[[[[", ' + b"[" * 70), limit=64)
    with pytest.raises(common.TooDeep):
        while deep.read(size):
            pass


def test_a_number_past_a_double_is_refused_with_its_conversation() -> None:
    data = (EXPORTS / CHATGPT).read_bytes().replace(b"1700000002", b"1e400")
    error = _refused(chatgpt.read_chats, data)
    assert (error.place, error.reason) == ("conversations[1]", "a number out of range")


@pytest.mark.parametrize("reader", [chatgpt.read_chats, librechat.read_chats])
def test_one_giant_conversation_is_refused_before_it_is_built(
    monkeypatch: pytest.MonkeyPatch, reader: Any
) -> None:
    monkeypatch.setattr(common, "MAX_CONVERSATION_BYTES", 200_000)
    small = fixture(CHATGPT)[0]
    giant = json.loads(json.dumps(small))
    node = next(n for n in giant["mapping"].values() if n.get("message"))
    node["message"]["content"]["parts"] = ["x" * 100_000] * 5  # 500 kB in one conversation
    if reader is librechat.read_chats:
        giant = {
            "conversationId": "c",
            "messages": [
                {"messageId": f"m{n}", "parentMessageId": None, "text": "x" * 100_000}
                for n in range(5)
            ],
        }
    data = json.dumps([small, giant] if reader is chatgpt.read_chats else giant).encode()
    error = _refused(reader, data)
    assert error.place.endswith("[1]") or "[" not in error.place
    assert "one conversation of over 200,000 bytes" in error.reason
