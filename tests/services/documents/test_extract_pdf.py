"""PDFs made by the tests, read page by page: text by page, progress, Cancel, bad files."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, NumberObject, StreamObject

from chatdesk.services.documents.extract import extract
from chatdesk.services.documents.model import MAX_PAGES, DocumentError, Kind, Problem, Unit
from tests.services.documents.files import encrypt_pdf, write_image_pdf, write_pdf

PAGES = [
    "The harbour project starts in spring.",
    "",  # a blank page keeps its number
    "Zebra crossings are painted on page three.",
    "Invoices are due within thirty days.",
]


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "report.pdf", PAGES)


def test_each_page_keeps_its_text_and_number(report: Path) -> None:
    document = extract(report, "pdf")

    assert document.kind is Kind.PDF and document.unit is Unit.PAGE
    assert document.places == 4
    assert [part.number for part in document.parts] == [1, 3, 4]
    assert "Zebra crossings" in document.parts[1].text
    assert document.chars == sum(len(part.text) for part in document.parts)
    assert document.skipped == ()


def test_progress_is_reported_per_page(report: Path) -> None:
    reports: list[tuple[int, int]] = []

    extract(report, "pdf", on_progress=lambda done, total: reports.append((done, total)))

    assert reports == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancel_between_pages_stops_reading(report: Path) -> None:
    reports: list[int] = []

    with pytest.raises(DocumentError) as raised:
        extract(
            report,
            "pdf",
            on_progress=lambda done, _total: reports.append(done),
            should_stop=lambda: len(reports) > 2,  # after page 2
        )

    assert raised.value.problem is Problem.CANCELLED
    assert reports == [0, 1, 2]
    assert "cancelled" in str(raised.value)


def test_a_password_protected_pdf_is_refused_in_words(report: Path, tmp_path: Path) -> None:
    locked = encrypt_pdf(report, tmp_path / "locked.pdf", "secret", "owner")

    with pytest.raises(DocumentError) as raised:
        extract(locked, "pdf")

    assert raised.value.problem is Problem.ENCRYPTED
    assert "locked.pdf is protected by a password" in str(raised.value)


def test_a_pdf_locked_only_against_editing_is_read(report: Path, tmp_path: Path) -> None:
    """An empty user password: it opens in any viewer, so it opens here too."""
    restricted = encrypt_pdf(report, tmp_path / "restricted.pdf", "", "owner")

    document = extract(restricted, "pdf")

    assert "Invoices are due" in document.parts[-1].text


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_a_truncated_pdf_is_damaged(report: Path, tmp_path: Path, keep: float) -> None:
    data = report.read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: int(len(data) * keep)])

    with pytest.raises(DocumentError) as raised:
        extract(cut, "pdf")

    assert raised.value.problem is Problem.DAMAGED
    assert "cut.pdf is damaged or incomplete" in str(raised.value)


def test_a_file_that_is_not_a_pdf_is_damaged(tmp_path: Path) -> None:
    fake = tmp_path / "notes.pdf"
    fake.write_text("just some words, no PDF at all\n" * 20)

    with pytest.raises(DocumentError) as raised:
        extract(fake, "pdf")

    assert raised.value.problem is Problem.DAMAGED


def test_a_scanned_pdf_says_it_has_no_text(tmp_path: Path) -> None:
    scanned = write_image_pdf(tmp_path / "scan.pdf")

    with pytest.raises(DocumentError) as raised:
        extract(scanned, "pdf")

    assert raised.value.problem is Problem.NO_TEXT
    assert "has no text (scanned?); chatdesk does not read images of text" in str(raised.value)


def test_too_many_pages_are_refused_before_reading_them(tmp_path: Path) -> None:
    long = write_pdf(tmp_path / "long.pdf", [""] * (MAX_PAGES + 1))
    reports: list[int] = []

    with pytest.raises(DocumentError) as raised:
        extract(long, "pdf", on_progress=lambda done, _total: reports.append(done))

    assert raised.value.problem is Problem.TOO_BIG
    assert f"{MAX_PAGES + 1:,} pages" in str(raised.value)
    assert reports == []


def test_a_page_that_inflates_past_the_limits_is_refused(tmp_path: Path) -> None:
    """A 100 MB content stream packed into ~100 KB: pypdf's limit stops it, in words.

    The page has a font: pypdf does not read the contents of a page without one.
    """
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    stream = StreamObject()
    stream.set_data(zlib.compress(b" " * 100_000_000, 9))
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream[NameObject("/Length")] = NumberObject(len(stream.get_data()))
    page[NameObject("/Contents")] = writer._add_object(stream)
    bomb = tmp_path / "bomb.pdf"
    with bomb.open("wb") as out:
        writer.write(out)

    with pytest.raises(DocumentError) as raised:
        extract(bomb, "pdf")

    assert raised.value.problem is Problem.TOO_BIG
    assert "decompression bomb" in str(raised.value)


def test_a_broken_page_is_skipped_and_named(report: Path, tmp_path: Path) -> None:
    """Page 3's contents are not the hex they say they are: the other pages still count."""
    writer = PdfWriter(clone_from=PdfReader(report))
    contents = StreamObject()
    contents.set_data(b"zz not hex")
    contents[NameObject("/Filter")] = NameObject("/ASCIIHexDecode")
    writer.pages[2][NameObject("/Contents")] = writer._add_object(contents)
    broken = tmp_path / "broken.pdf"
    with broken.open("wb") as out:
        writer.write(out)

    document = extract(broken, "pdf")

    assert document.skipped == (3,)
    assert [part.number for part in document.parts] == [1, 4]


def test_a_pdf_whose_every_page_is_broken_is_damaged(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(write_pdf(tmp_path / "one.pdf", ["only page"])))
    contents = StreamObject()
    contents.set_data(b"zz not hex")
    contents[NameObject("/Filter")] = NameObject("/ASCIIHexDecode")
    writer.pages[0][NameObject("/Contents")] = writer._add_object(contents)
    broken = tmp_path / "broken.pdf"
    with broken.open("wb") as out:
        writer.write(out)

    with pytest.raises(DocumentError) as raised:
        extract(broken, "pdf")

    assert raised.value.problem is Problem.DAMAGED
    assert "not one of its pages could be read" in str(raised.value)
