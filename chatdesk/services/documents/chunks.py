"""A document cut into chunks of about ``CHUNK_CHARS`` for search, each knowing its place.

The text is first split into pieces at line ends and sentence ends, each remembering
how strong the boundary before it is (a new page or block, a paragraph, a sentence, a
line, a word). Pieces are packed into chunks; when the next one does not fit, the
chunk ends at the strongest boundary in its second half, so chunks end on paragraphs
or sentences where the text allows. A chunk begins with the last sentence or two of
the one before (``OVERLAP_CHARS``), so a passage cut in two is still found whole.
Separators are kept exactly, which lets a text file's chunk name its lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from chatdesk.services.documents.model import Document, Part, Unit

CHUNK_CHARS = 1_500
"""About 400 tokens: a passage long enough to answer from, short enough that several
fit in a small local model's context."""
OVERLAP_CHARS = 200
PART_JOINER = "\n\n"

_SEPARATOR = re.compile(r"((?:[ \t]*\n)+|(?<=[.!?…。！？])[ \t]+)")
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")


class Boundary(IntEnum):
    """How good a place to cut the boundary before a piece is."""

    WORD = 0
    LINE = 1
    SENTENCE = 2
    PARAGRAPH = 3
    PART = 4


@dataclass(frozen=True)
class Chunk:
    """A stretch of a document, from place ``first`` to place ``last`` (both included)."""

    index: int
    text: str
    first: int
    last: int
    heading: str = ""


@dataclass(frozen=True)
class _Piece:
    part: Part
    line: int  # lines before it in its part
    separator: str  # what stood before it in the text
    boundary: Boundary
    text: str


def place_label(unit: Unit, first: int, last: int) -> str:
    """``page 4``, ``pages 4–5``, ``paragraph 12``, ``lines 10–40``."""
    if first == last:
        return f"{unit.value} {first}"
    return f"{unit.value}s {first}–{last}"


def chunk_document(
    document: Document, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS
) -> list[Chunk]:
    """The document's text in chunks of at most ``size`` characters, in reading order."""
    chunks: list[Chunk] = []
    current: list[_Piece] = []
    for piece in _pieces(document, size):
        if current and _length(current) + len(piece.separator) + len(piece.text) > size:
            cut = _cut(current, piece, size)
            done, carry = current[:cut], current[cut:]
            chunks.append(_chunk(len(chunks), done, document.unit))
            current = [*_tail(done, overlap), *carry]
            if _length(current) + len(piece.separator) + len(piece.text) > size:
                current = carry
            if current and _length(current) + len(piece.separator) + len(piece.text) > size:
                chunks.append(_chunk(len(chunks), current, document.unit))
                current = []
        current.append(piece)
    if current:
        chunks.append(_chunk(len(chunks), current, document.unit))
    return chunks


def _pieces(document: Document, size: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    for part in document.parts:
        separator, boundary, line = PART_JOINER, Boundary.PART, 0
        started = False  # a separator before the part's first text stays PART_JOINER
        for position, field in enumerate(_SEPARATOR.split(part.text)):
            if position % 2:
                if started:
                    separator = field
                    boundary = _strength(field.count("\n"), pieces[-1].text)
                line += field.count("\n")
                continue
            for text in _words(field, size):
                if text:
                    pieces.append(_Piece(part, line, separator, boundary, text))
                    separator, boundary, started = "", Boundary.WORD, True
    return pieces


def _strength(newlines: int, before: str) -> Boundary:
    if newlines >= 2:
        return Boundary.PARAGRAPH
    if before.endswith(_SENTENCE_END):
        return Boundary.SENTENCE
    return Boundary.LINE if newlines else Boundary.WORD


def _words(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size``, cut after a space where there is one."""
    pieces = []
    while len(text) > size:
        cut = text.rfind(" ", size // 2, size) + 1 or size
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _length(pieces: list[_Piece]) -> int:
    return sum(len(piece.separator) + len(piece.text) for piece in pieces[1:]) + (
        len(pieces[0].text) if pieces else 0
    )


def _cut(current: list[_Piece], incoming: _Piece, size: int) -> int:
    """Where the chunk ends: before the strongest boundary in its second half."""
    best, best_strength = len(current), incoming.boundary
    length = len(current[0].text)
    for index in range(1, len(current)):
        if length >= size // 2 and current[index].boundary > best_strength:
            best, best_strength = index, current[index].boundary
        length += len(current[index].separator) + len(current[index].text)
    return best


def _tail(pieces: list[_Piece], overlap: int) -> list[_Piece]:
    """The last whole pieces of ``pieces`` that fit in ``overlap`` characters."""
    taken: list[_Piece] = []
    room = overlap
    for piece in reversed(pieces[1:]):
        room -= len(piece.text) + len(piece.separator)
        if room < 0:
            break
        taken.append(piece)
    return taken[::-1]


def _chunk(index: int, pieces: list[_Piece], unit: Unit) -> Chunk:
    text = pieces[0].text + "".join(piece.separator + piece.text for piece in pieces[1:])
    first, last = pieces[0], pieces[-1]
    if unit is Unit.LINE:
        start, end = first.part.number + first.line, last.part.number + last.line
    else:
        start, end = first.part.number, last.part.number
    return Chunk(index, text, start, end, first.part.heading)
