"""A text file is decoded and split a piece at a time (so a 20 MB file never holds the
GIL for long): whatever the piece size, the lines, their numbers and the errors are
those of reading it whole, even with a line end or a character cut in two."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from chatdesk.services.documents import plain_text
from chatdesk.services.documents.extract import extract
from chatdesk.services.documents.model import DocumentError, Problem

TEXT = "première ligne\r\nsecond line\r\n\r\nthird\rfourth 🚢\n\nlast line, no end"


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 16, 1 << 20])
@pytest.mark.parametrize(("mark", "encoding"), [(b"", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")])
def test_any_piece_size_reads_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int, mark: bytes, encoding: str
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(mark + TEXT.encode(encoding))
    monkeypatch.setattr(plain_text, "PIECE_BYTES", piece)
    document = extract(path, "text")
    assert [(p.number, p.text) for p in document.parts] == [
        (1, "première ligne\nsecond line"),
        (4, "third\nfourth 🚢"),
        (7, "last line, no end"),
    ]
    assert document.places == 7


@pytest.mark.parametrize("piece", [1, 4, 1 << 20])
def test_a_bad_byte_is_named_by_its_line_whatever_the_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("one\ntwo é\nthree\n".encode() + b"caf\xe9\n")
    monkeypatch.setattr(plain_text, "PIECE_BYTES", piece)
    with pytest.raises(DocumentError) as refused:
        extract(path, "text")
    assert refused.value.problem is Problem.NOT_TEXT and "line 4" in refused.value.message
