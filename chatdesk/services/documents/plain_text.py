"""A text file (prose, Markdown, CSV, code) as it is, in blocks of lines.

UTF-8 is what chatdesk reads, with or without a byte-order mark; a file that starts
with a UTF-16 or UTF-32 mark (Windows tools write those) is read in that encoding.
Anything else is refused with the line of the first bad byte rather than guessed: a
wrong guess (Latin-1 for a Shift-JIS file) would feed the model nonsense silently.
The place is the line; a part is a run of non-blank lines, numbered by its first.
"""

from __future__ import annotations

import codecs
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
    text = _decode(data, reading.name).replace("\r\n", "\n").replace("\r", "\n")
    del data
    reading.check()
    parts = [Part(first, reading.add(block)) for first, block in _blocks(text)]
    reading.step(1, 1)
    if not parts:
        raise DocumentError(Problem.NO_TEXT, f"{reading.name} has no text, only blank lines.")
    return Document(reading.name, Kind.TEXT, tuple(parts), text.count("\n") + 1)


def _decode(data: bytes, name: str) -> str:
    encoding, start = "utf-8", 0
    for mark, marked in _MARKS:
        if data.startswith(mark):
            encoding, start = marked, len(mark)
            break
    try:
        text = data[start:].decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, start + error.start) + 1
        raise DocumentError(
            Problem.NOT_TEXT,
            f"{name} is not UTF-8 text (line {line} has a byte UTF-8 does not allow); "
            "save it as UTF-8 and attach it again.",
        ) from None
    if "\x00" in text:
        raise DocumentError(
            Problem.NOT_TEXT, f"{name} looks like a binary file, not text; chatdesk cannot read it."
        )
    return text


def _blocks(text: str) -> list[tuple[int, str]]:
    """Runs of non-blank lines, each with the number of its first line."""
    blocks: list[tuple[int, str]] = []
    run: list[str] = []
    first = 1
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            if not run:
                first = number
            run.append(line)
        elif run:
            blocks.append((first, "\n".join(run)))
            run = []
    if run:
        blocks.append((first, "\n".join(run)))
    return blocks
