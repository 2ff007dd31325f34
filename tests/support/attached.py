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
