"""A Word document's text, block by block, with python-docx.

A DOCX is a zip: its sizes are checked from the zip's directory before anything is
unpacked, because python-docx loads every part into memory and parses
``word/document.xml`` whole. Python's zipfile never inflates a member past the size
its directory declares, so checking the declared sizes is enough to stop a zip bomb.

The place is the body block (a paragraph, a heading or a whole table), counted from 1
in reading order: Word lays pages out anew on every machine, but the n-th block is the
same everywhere, so a citation can find it again. Empty paragraphs count too (they
are blocks a reader sees), but carry no part.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import docx
from docx.opc.exceptions import OpcError
from docx.table import Table
from docx.text.paragraph import Paragraph

from chatdesk.services.documents.model import Document, DocumentError, Kind, Part, Problem
from chatdesk.services.documents.reading import Reading, open_binary

BODY = "word/document.xml"
MAX_BODY_BYTES = 64 * 1024 * 1024
"""``word/document.xml`` unpacked: markup runs 5-20 times the text, so this holds a
document near MAX_CHARS; lxml takes several times this in memory while parsing."""
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
"""Every part unpacked (images included): python-docx keeps them all in memory."""
MAX_MEMBERS = 10_000
PROGRESS_EVERY = 200
"""Blocks between progress reports: paragraphs are cheap, callbacks less so."""


def read_docx(path: Path, reading: Reading) -> Document:
    with open_binary(path) as source:
        _check_package(source, reading.name)
        source.seek(0)
        reading.step(0, 1)
        try:
            body = docx.Document(source)
        except (
            OpcError,
            KeyError,
            ValueError,
            zipfile.BadZipFile,
            SyntaxError,
        ) as error:  # lxml: SyntaxError
            raise reading.damaged(f"its Word parts are broken: {str(error)[:100]}") from None
        blocks = list(body.iter_inner_content())
        parts: list[Part] = []
        heading = ""
        total = len(blocks)
        for number, block in enumerate(blocks, start=1):
            text, is_heading = _block_text(block)
            if is_heading and text:
                heading = text
            if text.strip():
                parts.append(Part(number, reading.add(text), heading))
            if number % PROGRESS_EVERY == 0:
                reading.step(number, total)
        reading.step(total, total)
    if not parts:
        raise DocumentError(Problem.NO_TEXT, f"{reading.name} has no text.")
    return Document(reading.name, Kind.DOCX, tuple(parts), total)


def _check_package(source: BinaryIO, name: str) -> None:
    try:
        with zipfile.ZipFile(source) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DocumentError(
            Problem.DAMAGED,
            f"{name} is not a Word document chatdesk can read (a .docx is a zip file, and "
            "this one is not). If it is an old .doc, save it as .docx in Word first.",
        ) from None
    sizes = {member.filename: member.file_size for member in members}
    if BODY not in sizes:
        raise DocumentError(
            Problem.DAMAGED,
            f"{name} is a zip file but not a Word document (it has no {BODY}); "
            "save it as .docx in Word and attach it again.",
        )
    if (
        sizes[BODY] > MAX_BODY_BYTES
        or sum(sizes.values()) > MAX_UNPACKED_BYTES
        or len(members) > MAX_MEMBERS
    ):
        raise DocumentError(
            Problem.TOO_BIG,
            f"{name} would unpack to {sum(sizes.values()) / 1e6:,.0f} MB "
            f"({sizes[BODY] / 1e6:,.0f} MB of text and markup), more than chatdesk "
            "unpacks from one document (a zip bomb, or a very large file); "
            "attach the part you need.",
        )


def _block_text(block: Paragraph | Table) -> tuple[str, bool]:
    """The block's text, and whether it is a heading (a heading or title style)."""
    if isinstance(block, Paragraph):
        style = block.style.name if block.style is not None else ""
        is_heading = (style or "").startswith(("Heading", "Title"))
        return block.text, is_heading
    return "\n".join(" | ".join(row) for row in _rows(block)), False


def _rows(table: Table) -> Iterator[list[str]]:
    """Each row's cell texts; a merged cell, which python-docx repeats, once."""
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text.strip())
        yield cells
