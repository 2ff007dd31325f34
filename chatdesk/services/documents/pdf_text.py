"""A PDF's text, page by page, with pypdf.

The file is read from its handle, not loaded whole, and each page's text is taken
before the next: progress and Cancel come per page. pypdf keeps every object it has
read in ``resolved_objects``, images a page shows included, so memory would grow with
the file (60 MB more for a 56 MB PDF of scans); emptying that cache after each page
keeps the growth to a few MB, for ~20% more time (shared fonts are read again). A PDF encrypted only
against editing (an empty user password, common in exported reports) opens; one that
needs a password to open is refused. Broken pages are skipped and named, as long as
some page can be read; a PDF whose every page lacks text was scanned.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, LimitReachedError, PyPdfError

from chatdesk.services.documents.model import (
    MAX_PAGES,
    Document,
    DocumentError,
    Kind,
    Part,
    Problem,
)
from chatdesk.services.documents.reading import Reading, open_binary

MALFORMED = (
    PyPdfError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    RecursionError,
    AssertionError,
    zlib.error,
    struct.error,
)
"""What pypdf lets out on a malformed file besides its own errors (in its issue tracker
each of these has a sample PDF); none of them is a fault of chatdesk's."""


def read_pdf(path: Path, reading: Reading) -> Document:
    with open_binary(path) as source:
        try:
            reader = PdfReader(source, strict=False)
            _unlock(reader, reading.name)
            total = len(reader.pages)
        except DocumentError:
            raise
        except LimitReachedError:
            raise _over_limits(reading.name) from None
        except MALFORMED as error:
            raise reading.damaged(_what(error)) from None
        if total > MAX_PAGES:
            raise DocumentError(
                Problem.TOO_BIG,
                f"{reading.name} has {total:,} pages; chatdesk reads at most {MAX_PAGES:,} "
                "pages of a PDF. Attach the pages you need as a separate file.",
            )
        parts: list[Part] = []
        skipped: list[int] = []
        reading.step(0, total)
        for index in range(total):
            try:
                text = reader.pages[index].extract_text()
            except LimitReachedError:
                raise _over_limits(reading.name) from None
            except MALFORMED:
                skipped.append(index + 1)
                text = ""
            if text.strip():
                parts.append(Part(index + 1, reading.add(text)))
            reader.resolved_objects.clear()  # see the module's doc
            reading.step(index + 1, total)
    if not parts:
        if skipped:
            raise reading.damaged("not one of its pages could be read")
        raise DocumentError(
            Problem.NO_TEXT,
            f"{reading.name} has no text (scanned?); chatdesk does not read images of text. "
            "Run it through OCR first, or paste the text you need.",
        )
    return Document(reading.name, Kind.PDF, tuple(parts), total, tuple(skipped))


def _unlock(reader: PdfReader, name: str) -> None:
    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("")
    except DependencyError:
        opened = PasswordType.NOT_DECRYPTED
    if opened == PasswordType.NOT_DECRYPTED:
        raise DocumentError(
            Problem.ENCRYPTED,
            f"{name} is protected by a password; open it, save a copy without the "
            "password, and attach that.",
        )


def _over_limits(name: str) -> DocumentError:
    return DocumentError(
        Problem.TOO_BIG,
        f"{name} holds a page or stream too large to unpack safely (a possible "
        "decompression bomb); chatdesk did not read it.",
    )


def _what(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:120]
