"""What an extracted document is, its limits, and the one error extraction raises.

A document keeps its text per *place*, the unit a citation points back to: a PDF's
page, a DOCX's paragraph (a body block: a paragraph, a heading or a whole table, in
reading order; Word has no stable pages, but the n-th block is the same in every
reader), or a text file's line. Each part carries the number of its first place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_PAGES = 2_000
"""A PDF of more pages is refused before any page is read."""
MAX_CHARS = 5_000_000
"""Extracted text past this is refused: about 1,200 pages of dense prose."""
MAX_TEXT_BYTES = 4 * MAX_CHARS
"""A text file larger is refused unread: at 4 bytes a character at most (UTF-8), it
would decode to more than MAX_CHARS characters."""


class Kind(StrEnum):
    """What a file is read as."""

    PDF = "pdf"
    DOCX = "docx"
    TEXT = "text"


class Unit(StrEnum):
    """What a place number counts."""

    PAGE = "page"
    PARAGRAPH = "paragraph"
    LINE = "line"


UNIT_OF = {Kind.PDF: Unit.PAGE, Kind.DOCX: Unit.PARAGRAPH, Kind.TEXT: Unit.LINE}


class Problem(StrEnum):
    """Why a document could not be read: for code; the message is for the person."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    ENCRYPTED = "encrypted"
    DAMAGED = "damaged"
    NO_TEXT = "no_text"
    NOT_TEXT = "not_text"
    TOO_BIG = "too_big"
    CANCELLED = "cancelled"


class DocumentError(Exception):
    """A document that cannot be turned into text, with a sentence a person can act on."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


@dataclass(frozen=True)
class Part:
    """Text from one place on: a page, a paragraph, or a run of lines starting at ``number``.

    ``heading`` is the DOCX heading the part sits under, for a citation's label.
    """

    number: int
    text: str
    heading: str = ""


@dataclass(frozen=True)
class Document:
    """A file's text by place, with its totals.

    ``places`` is the count of places the file has (a PDF's pages, blank ones too), not
    of parts: pages without text keep their number but have no part. ``skipped`` names
    the pages that could not be read (damaged) while the rest could.
    """

    name: str
    kind: Kind
    parts: tuple[Part, ...]
    places: int
    skipped: tuple[int, ...] = ()

    @property
    def unit(self) -> Unit:
        return UNIT_OF[self.kind]

    @property
    def chars(self) -> int:
        return sum(len(part.text) for part in self.parts)
