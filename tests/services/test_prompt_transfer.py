"""Prompt files: the documented JSON round trip, and hostile files refused by place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.services.prompt_transfer import (
    MAX_FILE_BYTES,
    PromptFileError,
    export_prompts,
    parse_prompts,
    read_prompts,
)

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_export_then_import_gives_the_same_prompts(services: Services, tmp_path: Path) -> None:
    me = services.users.ensure()
    other = services.users.ensure("other")
    services.prompts.create(me, "Summary", "Summarise {{text}} in a {{tone|friendly}} tone.")
    services.prompts.create(me, "日本語 🎉", 'Quotes " and \\ and \n new lines')
    path = tmp_path / "prompts.json"
    export_prompts(path, services.prompts.list(me))

    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "chatdesk-prompts" and document["version"] == 1
    assert path.stat().st_mode & 0o777 == 0o600
    outcome = services.prompts.import_prompts(other, read_prompts(path))
    assert sorted(outcome.added) == ["Summary", "日本語 🎉"]
    assert [(p.name, p.text) for p in services.prompts.list(other)] == [
        (p.name, p.text) for p in services.prompts.list(me)
    ]
    again = services.prompts.import_prompts(other, read_prompts(path))
    assert (again.added, sorted(again.skipped)) == ([], ["Summary", "日本語 🎉"])


def _doc(prompts: object, **top: object) -> bytes:
    return json.dumps(
        {"format": "chatdesk-prompts", "version": 1, "prompts": prompts, **top}
    ).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "line 1, column 1: not JSON"),
        (b'{"format": "chatdesk-prompts",\n "version": 1,\n "prompts": [', "line 3, column 14"),
        (b'{"a": "\xff\xfe"}', r"line 1 \(byte 8\): not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[]", "the file: expected an object, found a list"),
        (b'{"version": ' + b"9" * 5000 + b"}", "not JSON chatdesk can read"),
        (b'{"format": "chatgpt"}', 'format: expected "chatdesk-prompts"'),
        (_doc([], version=2), "version: expected 1, found 2"),
        (_doc([], version=True), "version: expected 1, found true"),
        (_doc({"name": "x"}), "prompts: expected a list, found an object"),
        (_doc([{"name": "a", "text": "b"}, "c"]), r"prompts\[1\]: expected an object, found text"),
        (_doc([{"name": 3, "text": "b"}]), r"prompts\[0\]\.name: expected text, found a number"),
        (_doc([{"name": "a"}]), r"prompts\[0\]\.text: expected text, found nothing"),
        (_doc([{"name": "a", "text": "b"}] * 2001), "2,001 prompts, at most 2,000"),
    ],
)
def test_a_hostile_file_is_refused_whole_naming_the_place(data: bytes, message: str) -> None:
    with pytest.raises(PromptFileError, match=message):
        parse_prompts(data)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(PromptFileError, match=r"huge\.json is larger than 16 MB"):
        read_prompts(path)
    with pytest.raises(PromptFileError, match=r"Cannot read missing\.json"):
        read_prompts(tmp_path / "missing.json")


def test_a_bom_and_unknown_keys_are_accepted() -> None:
    data = b"\xef\xbb\xbf" + _doc([{"name": "a", "text": "b", "tags": ["x"]}], extra=1)
    assert parse_prompts(data) == [("a", "b")]


@SQLITE_ONLY
def test_a_broken_file_imports_nothing(services: Services) -> None:
    me = services.users.ensure()
    with pytest.raises(PromptFileError):
        services.prompts.import_prompts(
            me, parse_prompts(_doc([{"name": "good", "text": "fine"}, {"name": "bad"}]))
        )
    assert services.prompts.list(me) == []
