"""Reading the fixtures of other apps' exports in tests."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from chatdesk.services.foreign.chat import ForeignChat, ForeignMessage, Reader

EXPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


def read(reader: Reader, name: str) -> list[ForeignChat]:
    with (EXPORTS / name).open("rb") as source:
        return list(reader(source, lambda _done: None))


def read_bytes(reader: Reader, data: bytes) -> list[ForeignChat]:
    return list(reader(io.BytesIO(data), lambda _done: None))


def read_json(reader: Reader, value: Any) -> list[ForeignChat]:
    return read_bytes(reader, json.dumps(value).encode())


def fixture(name: str) -> Any:
    return json.loads((EXPORTS / name).read_text(encoding="utf-8"))


def by_ref(chat: ForeignChat) -> dict[str, ForeignMessage]:
    return {message.ref: message for message in chat.messages}


def assert_parents_first(chat: ForeignChat) -> None:
    seen: set[str] = set()
    for message in chat.messages:
        assert message.parent is None or message.parent in seen, message.ref
        seen.add(message.ref)
