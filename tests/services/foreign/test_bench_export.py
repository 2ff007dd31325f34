"""The bench's ChatGPT export reads back with the counts it was written with."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from chatdesk.bench.chatgpt_export import write_chatgpt_export
from chatdesk.services.foreign.chat import Source
from chatdesk.services.foreign.detect import detect
from chatdesk.vocabulary import Role


@pytest.mark.parametrize("zipped", [False, True])
def test_a_small_generated_export_reads_back(tmp_path: Path, zipped: bool) -> None:
    path = tmp_path / ("export.zip" if zipped else "conversations.json")
    written = write_chatgpt_export(
        path, conversations=4, messages_per_conversation=30, branch_every=3, zip=zipped
    )
    found = detect(path)
    assert found.source is Source.CHATGPT
    assert found.member == ("conversations.json" if zipped else None)
    chats = list(found.chats(lambda _done: None))
    assert len(chats) == 4
    assert written == sum(len(chat.messages) for chat in chats) == 4 * 30
    for chat in chats:
        assert chat.system_prompt == "The user is a developer.\n\nAnswer briefly."
        assert chat.current_leaf == chat.messages[-1].ref  # the path's end comes last
        versions = Counter(m.parent for m in chat.messages if m.role is Role.ASSISTANT)
        assert max(versions.values()) == 2  # regenerated replies are siblings
        assert any(m.extra.get("tool") == "python" for m in chat.messages)
