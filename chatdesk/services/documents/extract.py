"""``extract``: one door for every kind of document, safe to run on a worker thread.

Each call has its own reader, file handle and ``Reading``: nothing is shared between
threads. Errors are ``DocumentError`` only, with a sentence for the person.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chatdesk.services.documents.docx_text import read_docx
from chatdesk.services.documents.model import Document, Kind
from chatdesk.services.documents.pdf_text import read_pdf
from chatdesk.services.documents.plain_text import read_text
from chatdesk.services.documents.reading import ProgressCallback, Reading, StopCheck

_READERS: dict[Kind, Callable[[Path, Reading], Document]] = {
    Kind.PDF: read_pdf,
    Kind.DOCX: read_docx,
    Kind.TEXT: read_text,
}


def extract(
    path: Path,
    kind: Kind | str,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    name: str | None = None,
) -> Document:
    """The text of the file at ``path``, read as ``kind`` (``pdf``, ``docx`` or ``text``).

    ``on_progress(done, total)`` counts pages for a PDF, blocks for a DOCX, and goes
    0 then 1 for a text file; ``should_stop()`` is asked between them, and a true
    answer ends the extraction with a ``DocumentError`` of problem ``CANCELLED``.
    ``name`` is what the person calls the file (a stored copy is named by its hash):
    the document and every error message carry it.
    """
    reading = Reading(name or path.name, on_progress, should_stop)
    return _READERS[Kind(kind)](path, reading)
