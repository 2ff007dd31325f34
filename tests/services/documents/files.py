"""Real documents written by the tests: PDFs with fpdf2 and pypdf, DOCX with python-docx."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with one page per text (an empty text: a blank page)."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 5, text)
    pdf.output(str(path))
    return path


def encrypt_pdf(source: Path, path: Path, user_password: str, owner_password: str) -> Path:
    """``source`` encrypted with pypdf's writer (RC4: no crypto library needed)."""
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    with path.open("wb") as out:
        writer.write(out)
    return path


def write_image_pdf(path: Path) -> Path:
    """A "scanned" page: an image of text, no text layer."""
    image = Image.new("RGB", (400, 200), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(buffer, x=10, y=10, w=150)
    pdf.output(str(path))
    return path


def write_docx(path: Path) -> Path:
    """A title, two sections with headings, a table with a merged cell, empty paragraphs."""
    document = docx.Document()
    document.add_heading("Quarterly report", level=0)  # block 1
    document.add_paragraph("This report covers the harbour project.")  # 2
    document.add_heading("Costs", level=1)  # 3
    document.add_paragraph("Steel prices rose in March.")  # 4
    table = document.add_table(rows=4, cols=2)  # 5
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Visits by city"
    for row, (city, count) in enumerate([("City", "Visits"), ("Lisbon", "3"), ("Porto", "5")], 1):
        table.cell(row, 0).text = city
        table.cell(row, 1).text = count
    document.add_paragraph("")  # 6: empty, counted, no part
    document.add_heading("Risks", level=1)  # 7
    document.add_paragraph("The crane contract ends in June.")  # 8
    document.save(str(path))
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name, data in members.items():
            out.writestr(name, data)
    return path


def write_docx_bomb(path: Path, unpacked_mb: int) -> Path:
    """A zip laid out like a DOCX whose ``word/document.xml`` inflates to ``unpacked_mb``."""
    block = b"<w:p/>" * (1 << 17)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        out.writestr("[Content_Types].xml", b"<Types/>")
        with out.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(unpacked_mb * (1 << 20) // len(block)):
                member.write(block)
    return path
