"""Saved prompts as a JSON file, the documented format other tools can write too.

    {"format": "chatdesk-prompts", "version": 1,
     "prompts": [{"name": "Summary", "text": "Summarise {{text}} in a {{tone|friendly}} tone."}]}

Extra keys are ignored (a later version may add some). A file is read whole, after its
size is checked, and checked whole before anything is stored: a file that is not this
format (not UTF-8, not JSON, nested too deeply, a wrong type anywhere) raises
``PromptFileError`` naming the place and nothing is imported. The rules of each prompt
(an empty name, too long a text) are the service's: such a prompt is refused on its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from chatdesk.private_files import write_atomically
from chatdesk.services.errors import ValidationError
from chatdesk.services.prompts import MAX_PROMPTS, PromptRecord

FORMAT = "chatdesk-prompts"
VERSION = 1
MAX_FILE_BYTES = 16 * 1024 * 1024
"""Far above 2,000 prompts of a page each; a bigger file is refused before it is read."""


class PromptFileError(ValidationError):
    """The file cannot be imported at all; the message names the place."""

    def __init__(self, place: str, reason: str) -> None:
        super().__init__(f"{place}: {reason}" if place else reason)
        self.place = place
        self.reason = reason


def export_prompts(path: Path, prompts: Sequence[PromptRecord]) -> None:
    """Write ``prompts`` to ``path`` whole or not at all (private to the person)."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "prompts": [{"name": p.name, "text": p.text} for p in prompts],
    }

    def write(out: TextIO) -> None:
        json.dump(document, out, ensure_ascii=False, indent=2)
        out.write("\n")

    write_atomically(path, write, mode=0o600)


def read_prompts(path: Path) -> list[tuple[str, str]]:
    """The (name, text) pairs of a prompts file, checked whole."""
    try:
        with path.open("rb") as source:
            data = source.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise PromptFileError("", f"Cannot read {path.name}: {error.strerror or error}.") from None
    if len(data) > MAX_FILE_BYTES:
        raise PromptFileError(
            "",
            f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: not a prompts file.",
        )
    return parse_prompts(data)


def parse_prompts(data: bytes) -> list[tuple[str, str]]:
    """The (name, text) pairs of a prompts file's bytes, checked whole."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise PromptFileError(f"line {line} (byte {error.start + 1})", "not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PromptFileError(
            f"line {error.lineno}, column {error.colno}", f"not JSON ({error.msg})"
        ) from None
    except RecursionError:
        raise PromptFileError("", "the JSON is nested too deeply") from None
    except ValueError as error:  # an integer of thousands of digits
        raise PromptFileError("", f"not JSON chatdesk can read ({error})") from None
    return _checked(document)


def _checked(document: Any) -> list[tuple[str, str]]:
    if not isinstance(document, dict):
        raise PromptFileError("the file", f"expected an object, found {_kind(document)}")
    if document.get("format") != FORMAT:
        raise PromptFileError("format", f'expected "{FORMAT}": this is not a prompts file')
    version = document.get("version")
    if type(version) is not int or version != VERSION:
        raise PromptFileError(
            "version", f"expected {VERSION}, found {_shown(version)} (a newer chatdesk's file?)"
        )
    items = document.get("prompts")
    if not isinstance(items, list):
        raise PromptFileError("prompts", f"expected a list, found {_kind(items)}")
    if len(items) > MAX_PROMPTS:
        raise PromptFileError("prompts", f"{len(items):,} prompts, at most {MAX_PROMPTS:,}")
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        place = f"prompts[{index}]"
        if not isinstance(item, dict):
            raise PromptFileError(place, f"expected an object, found {_kind(item)}")
        fields = []
        for key in ("name", "text"):
            value = item.get(key)
            if not isinstance(value, str):
                raise PromptFileError(f"{place}.{key}", f"expected text, found {_kind(value)}")
            fields.append(value)
        pairs.append((fields[0], fields[1]))
    return pairs


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _shown(value: object) -> str:
    if isinstance(value, str | int | float) and len(shown := json.dumps(value)) <= 20:
        return shown
    return _kind(value)
