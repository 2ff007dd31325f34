"""JSON parsed a piece at a time, so parsing a big file never holds the GIL for long.

``json.loads`` parses a whole document in one C call that keeps the GIL: on a 40 MB
export that is more than half a second in which the GUI thread cannot run, even though
the parse happens on a worker thread. ``load_in_steps`` walks the top-level object (and
any list directly inside it) itself and hands each member or list item to
``JSONDecoder.raw_decode``; between pieces it calls ``step(position)``, which can report
progress or raise to stop. The result and the errors (``JSONDecodeError`` with line and
column) are those of ``json.loads``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def load_in_steps(text: str, step: Callable[[int], None]) -> Any:
    """Parse ``text`` like ``json.loads``, calling ``step(chars parsed)`` between pieces."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    start = _skip(text, 0)
    if text.startswith("{", start):
        document, end = _object(text, start, step)
    else:
        document, end = _DECODER.raw_decode(text, start)
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    step(end)
    return document


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _value(text: str, pos: int, step: Callable[[int], None]) -> tuple[Any, int]:
    if text.startswith("[", pos):
        return _list(text, pos, step)
    return _DECODER.raw_decode(text, pos)


def _object(text: str, pos: int, step: Callable[[int], None]) -> tuple[dict[str, Any], int]:
    """The object starting at ``pos`` (a ``{``); its lists are read item by item."""
    members: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        return members, pos + 1
    while True:
        if not text.startswith('"', pos):
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, pos
            )
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if not text.startswith(":", pos):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        pos = _skip(text, pos + 1)
        members[key], pos = _value(text, pos, step)
        step(pos)
        pos = _skip(text, pos)
        if text.startswith("}", pos):
            return members, pos + 1
        if not text.startswith(",", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)


def _list(text: str, pos: int, step: Callable[[int], None]) -> tuple[list[Any], int]:
    """The list starting at ``pos`` (a ``[``), one ``raw_decode`` per item."""
    items: list[Any] = []
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return items, pos + 1
    while True:
        item, pos = _DECODER.raw_decode(text, pos)
        items.append(item)
        step(pos)
        pos = _skip(text, pos)
        if text.startswith("]", pos):
            return items, pos + 1
        if not text.startswith(",", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)
