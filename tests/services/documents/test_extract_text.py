"""Text files as they are: encodings, blocks of lines, and what is refused."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from chatdesk.services.documents.extract import extract
from chatdesk.services.documents.model import MAX_CHARS, DocumentError, Kind, Problem, Unit

NOTES = "# Trip\n\nTrain to Lisbon at 9.\nHotel near the river.\n\n\n```python\nprint('ok')\n```\n"


def test_blocks_of_lines_are_numbered_by_their_first_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(NOTES, encoding="utf-8")

    document = extract(path, "text")

    assert document.kind is Kind.TEXT and document.unit is Unit.LINE
    assert [(part.number, part.text) for part in document.parts] == [
        (1, "# Trip"),
        (3, "Train to Lisbon at 9.\nHotel near the river."),
        (7, "```python\nprint('ok')\n```"),
    ]
    assert document.places == NOTES.count("\n") + 1


@pytest.mark.parametrize(
    ("mark", "encoding"),
    [
        (b"", "utf-8"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_utf8_and_marked_unicode_files_read_the_same(
    tmp_path: Path, mark: bytes, encoding: str
) -> None:
    text = "name,city\r\nJosé,São Paulo\r\nZoë,Kraków\r\n"
    path = tmp_path / "people.csv"
    path.write_bytes(mark + text.encode(encoding))

    document = extract(path, "text")

    assert [part.text for part in document.parts] == ["name,city\nJosé,São Paulo\nZoë,Kraków"]


def test_latin1_text_is_refused_with_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_bytes("name\nplain\nJosé\n".encode("latin-1"))

    with pytest.raises(DocumentError) as raised:
        extract(path, "text")

    assert raised.value.problem is Problem.NOT_TEXT
    assert "old.csv is not UTF-8 text (line 3" in str(raised.value)


def test_a_binary_file_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "program.txt"
    path.write_bytes(b"ELF\x00\x01\x02 header")

    with pytest.raises(DocumentError) as raised:
        extract(path, "text")

    assert raised.value.problem is Problem.NOT_TEXT
    assert "binary" in str(raised.value)


def test_more_characters_than_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text(("word " * 20 + "\n") * (MAX_CHARS // 100 + 1), encoding="utf-8")

    with pytest.raises(DocumentError) as raised:
        extract(path, "text")

    assert raised.value.problem is Problem.TOO_BIG
    assert f"{MAX_CHARS:,} characters" in str(raised.value)


def test_blank_lines_only_is_no_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\n\n", encoding="utf-8")

    with pytest.raises(DocumentError) as raised:
        extract(path, "text")

    assert raised.value.problem is Problem.NO_TEXT
