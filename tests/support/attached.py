"""Real files to attach in tests: PNGs drawn by Pillow, PDFs written by fpdf2."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from PIL import Image


def png(path: Path, size: tuple[int, int] = (4, 3), color: str = "red") -> Path:
    Image.new("RGB", size, color).save(path, "PNG")
    return path


def pdf(path: Path, text: str = "Hello, PDF") -> Path:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text=text)
    document.output(str(path))
    return path


def pdf_pages(path: Path, pages: list[str]) -> Path:
    """A PDF with one page per text of ``pages`` (wrapped to the page)."""
    document = FPDF()
    document.set_font("helvetica", size=11)
    for text in pages:
        document.add_page()
        document.multi_cell(0, 5, text)
    document.output(str(path))
    return path
