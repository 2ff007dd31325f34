"""A text file (prose, Markdown, CSV, code) as it is, in blocks of lines.

UTF-8 is what chatdesk reads, with or without a byte-order mark; a file that starts
with a UTF-16 or UTF-32 mark (Windows tools write those) is read in that encoding.
Anything else is refused with the line of the first bad byte rather than guessed: a
wrong guess (Latin-1 for a Shift-JIS file) would feed the model nonsense silently.
The place is the line; a part is a run of non-blank lines, numbered by its first.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from pathlib import Path

from chatdesk.services.documents.model import (
    MAX_TEXT_BYTES,
    Document,
    DocumentError,
    Kind,
    Part,
    Problem,
)
from chatdesk.services.documents.reading import Reading, open_binary

_MARKS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


PIECE_BYTES = 1 << 20
"""Decoded and split a piece at a time: one ``decode`` or ``split`` of 20 MB holds the
GIL for 100 ms and more, long enough to freeze the window while a file is read."""


def read_text(path: Path, reading: Reading) -> Document:
    with open_binary(path) as source:
        reading.step(0, 1)
        data = source.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise DocumentError(
            Problem.TOO_BIG,
            f"{reading.name} is over {MAX_TEXT_BYTES // 1_000_000} MB, more text than "
            "chatdesk reads from one file; attach the part you need.",
        )
    blocks, lines = _blocks(_lines(data, reading))
    del data
    parts = [Part(first, block) for first, block in blocks]
    reading.step(1, 1)
    if not parts:
        raise DocumentError(Problem.NO_TEXT, f"{reading.name} has no text, only blank lines.")
    return Document(reading.name, Kind.TEXT, tuple(parts), lines)


def _lines(data: bytes, reading: Reading) -> Iterator[str]:
    """The file's lines (``\\r\\n``, ``\\r`` or ``\\n`` ends one), decoded a piece at a
    time; every character counts against the limit (``Reading.add``)."""
    encoding, offset = "utf-8", 0
    for mark, marked in _MARKS:
        if data.startswith(mark):
            encoding, offset = marked, len(mark)
            break
    decoder = codecs.getincrementaldecoder(encoding)()
    carry = ""  # the text after the last line end: not a whole line yet
    while True:
        final = offset + PIECE_BYTES >= len(data)
        held = len(decoder.getstate()[0])
        try:
            text = decoder.decode(data[offset : offset + PIECE_BYTES], final)
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, offset - held + error.start) + 1
            raise DocumentError(
                Problem.NOT_TEXT,
                f"{reading.name} is not UTF-8 text (line {line} has a byte UTF-8 does not "
                "allow); save it as UTF-8 and attach it again.",
            ) from None
        if "\x00" in text:
            raise DocumentError(
                Problem.NOT_TEXT,
                f"{reading.name} looks like a binary file, not text; chatdesk cannot read it.",
            )
        reading.add(text)
        reading.check()
        text = carry + text
        held_cr = ""
        if not final and text.endswith("\r"):  # its "\n" may open the next piece
            text, held_cr = text[:-1], "\r"
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        carry = lines.pop() + held_cr
        yield from lines
        if final:
            yield carry
            return
        offset += PIECE_BYTES


def _blocks(lines: Iterable[str]) -> tuple[list[tuple[int, str]], int]:
    """Runs of non-blank lines, each with the number of its first line; and how many
    lines there are."""
    blocks: list[tuple[int, str]] = []
    run: list[str] = []
    first = 1
    number = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not run:
                first = number
            run.append(line)
        elif run:
            blocks.append((first, "\n".join(run)))
            run = []
    if run:
        blocks.append((first, "\n".join(run)))
    return blocks, number
