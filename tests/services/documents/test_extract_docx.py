"""Word documents made by the tests: blocks in reading order, tables, headings, bad zips."""

from __future__ import annotations

import resource
import zipfile
from pathlib import Path

import docx
import pytest

from chatdesk.services.documents import docx_text
from chatdesk.services.documents.extract import extract
from chatdesk.services.documents.model import DocumentError, Kind, Problem, Unit
from tests.services.documents.files import write_docx, write_docx_bomb, write_zip


def test_blocks_are_numbered_in_reading_order_with_their_heading(tmp_path: Path) -> None:
    document = extract(write_docx(tmp_path / "report.docx"), "docx")

    assert document.kind is Kind.DOCX and document.unit is Unit.PARAGRAPH
    assert document.places == 8
    by_number = {part.number: part for part in document.parts}
    assert sorted(by_number) == [1, 2, 3, 4, 5, 7, 8]  # 6 is an empty paragraph
    assert by_number[4].text == "Steel prices rose in March."
    assert by_number[4].heading == "Costs"
    assert by_number[8].heading == "Risks"
    assert by_number[2].heading == "Quarterly report"  # the title heads what follows it


def test_a_table_is_one_block_a_row_a_line_merged_cells_once(tmp_path: Path) -> None:
    document = extract(write_docx(tmp_path / "report.docx"), "docx")

    table = next(part for part in document.parts if part.number == 5)
    assert table.text.splitlines() == [
        "Visits by city",
        "City | Visits",
        "Lisbon | 3",
        "Porto | 5",
    ]


def test_progress_ends_at_the_block_count(tmp_path: Path) -> None:
    reports: list[tuple[int, int]] = []

    extract(
        write_docx(tmp_path / "report.docx"),
        "docx",
        on_progress=lambda done, total: reports.append((done, total)),
    )

    assert reports[0] == (0, 1) and reports[-1] == (8, 8)


def test_cancel_stops_before_the_blocks_are_read(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as raised:
        extract(write_docx(tmp_path / "report.docx"), "docx", should_stop=lambda: True)

    assert raised.value.problem is Problem.CANCELLED


def test_a_zip_bomb_posing_as_a_docx_is_refused_unpacked(tmp_path: Path) -> None:
    """document.xml says it inflates to 100 MB: refused from the zip's directory alone."""
    bomb = write_docx_bomb(tmp_path / "bomb.docx", unpacked_mb=100)
    assert bomb.stat().st_size < 1_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with pytest.raises(DocumentError) as raised:
        extract(bomb, "docx")

    assert raised.value.problem is Problem.TOO_BIG
    assert "zip bomb" in str(raised.value)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000


def test_the_bomb_limit_is_on_the_body_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real document whose body is over the limit (lowered here) is refused too."""
    report = write_docx(tmp_path / "report.docx")
    monkeypatch.setattr(docx_text, "MAX_BODY_BYTES", 1_000)

    with pytest.raises(DocumentError) as raised:
        extract(report, "docx")

    assert raised.value.problem is Problem.TOO_BIG


def test_an_old_doc_or_other_bytes_is_not_a_docx(tmp_path: Path) -> None:
    old = tmp_path / "letter.docx"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)  # OLE2, a .doc

    with pytest.raises(DocumentError) as raised:
        extract(old, "docx")

    assert raised.value.problem is Problem.DAMAGED
    assert "If it is an old .doc, save it as .docx" in str(raised.value)


def test_a_zip_without_a_word_body_is_not_a_docx(tmp_path: Path) -> None:
    sheet = write_zip(tmp_path / "sheet.docx", {"xl/workbook.xml": b"<workbook/>"})

    with pytest.raises(DocumentError) as raised:
        extract(sheet, "docx")

    assert raised.value.problem is Problem.DAMAGED
    assert "has no word/document.xml" in str(raised.value)


def test_a_docx_with_broken_xml_is_damaged(tmp_path: Path) -> None:
    good = write_docx(tmp_path / "report.docx")
    broken = tmp_path / "broken.docx"
    with zipfile.ZipFile(good) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["word/document.xml"] = members["word/document.xml"][:500]
    write_zip(broken, members)

    with pytest.raises(DocumentError) as raised:
        extract(broken, "docx")

    assert raised.value.problem is Problem.DAMAGED
    assert "broken.docx is damaged or incomplete" in str(raised.value)


def test_a_truncated_docx_is_damaged(tmp_path: Path) -> None:
    good = write_docx(tmp_path / "report.docx").read_bytes()
    cut = tmp_path / "cut.docx"
    cut.write_bytes(good[: len(good) // 2])

    with pytest.raises(DocumentError) as raised:
        extract(cut, "docx")

    assert raised.value.problem is Problem.DAMAGED


def test_a_docx_without_text_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.docx"
    docx.Document().save(str(empty))

    with pytest.raises(DocumentError) as raised:
        extract(empty, "docx")

    assert raised.value.problem is Problem.NO_TEXT
