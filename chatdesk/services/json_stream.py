"""A JSON object read as a stream of its members, and of its lists' items, never whole.

An 87 MB export parsed whole is over half a gigabyte of Python objects. ``members``
walks the top-level object with ijson's event parser and builds one member, or one
item of a list member, at a time, naming the place of any problem; ``list_items`` reads
one list of a file already walked, letting the C parser build the items (several times
faster). Memory stays flat whatever the file's size; the caller's ``step`` runs between
parts (progress, cancel), and the GIL is free between parser buffers.

ijson's C backend (yajl) has two faults this module keeps away from callers: it turns
an escaped lone surrogate (``"\\ud800"``, which chatdesk's own exports hold) into ``?``
or an error, and a 5,000-digit integer crashes the process (ijson 3.6) unless numbers
are read as C longs and doubles (``use_float``, which makes any integer past 64 bits a
parse error). So ``backend_for`` picks ijson's pure-Python backend, exact but ten times
slower, for the rare file with a lone surrogate escape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Any

import ijson
from ijson.common import ObjectBuilder

FAST: ModuleType = ijson.get_backend("yajl2_c") if ijson.backend == "yajl2_c" else ijson
EXACT: ModuleType = ijson.get_backend("python")
SCAN_BYTES = 1 << 20

_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""Any escaped surrogate: a literal start, so the search runs at memchr speed."""
_LONE_SURROGATE = re.compile(_HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)
"""An escaped surrogate that is not half of a pair (an escaped backslash before ``u``
counts too: the slower parser is always right, so doubt costs only time)."""
NOT_UTF8 = "not UTF-8 text"
NOT_AN_OBJECT = "not a JSON object"
BEYOND_64_BITS = "a whole number beyond 64 bits"
OUT_OF_RANGE = "a number out of range"
_UTF8_BOM = b"\xef\xbb\xbf"
_INT64 = range(-(2**63), 2**63)
_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})


class JSONStreamError(Exception):
    """The text is not JSON, or not a JSON object; ``place`` says where it went wrong.

    ``out_of_range`` marks valid JSON holding a number no database column can keep.
    """

    def __init__(self, place: str, reason: str) -> None:
        super().__init__(f"{place}: {reason}")
        self.place = place
        self.reason = reason
        self.out_of_range = reason in (BEYOND_64_BITS, OUT_OF_RANGE)


@dataclass(frozen=True)
class Part:
    """One member of the top-level object, or one item of a list member (``index``)."""

    key: str
    index: int | None
    value: Any


class _CountingReader:
    """A binary file that counts the bytes handed to the parser and skips a UTF-8 BOM."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if self.done == 0 and data.startswith(_UTF8_BOM):
            data = data[len(_UTF8_BOM) :]
            self.done += len(_UTF8_BOM)
        self.done += len(data)
        return data


def backend_for(source: IO[bytes], step: Callable[[int], None]) -> ModuleType:
    """The backend that reads ``source`` exactly: ``FAST`` unless a lone surrogate shows."""
    carry = b""
    done = 0
    while chunk := source.read(SCAN_BYTES):
        done += len(chunk)
        step(done)
        window = carry + chunk
        for escape in _SURROGATE_ESCAPE.finditer(window):
            if _LONE_SURROGATE.match(window, escape.start()):
                return EXACT
        carry = chunk[-11:]
    return FAST


def members(
    source: IO[bytes],
    *,
    lists: Container[str],
    build: Container[str],
    step: Callable[[int], None],
    backend: ModuleType = FAST,
) -> Iterator[Part]:
    """The parts of the JSON object in ``source``, in file order.

    A member named in ``lists`` whose value is a list comes as ``[]`` then item by item
    (``index`` counts them); a member or item whose key is not in ``build`` is parsed
    and checked but not built (yielded as ``None``). ``step(bytes read)`` runs before
    each part. Whole numbers fit 64 bits (an INTEGER column), other numbers are finite
    floats. Errors are ``JSONStreamError``.
    """
    reader = _CountingReader(source)
    place = _Place()
    try:
        yield from _parts(backend.parse(reader, use_float=True), lists, build, place, reader, step)
    except UnicodeDecodeError:
        raise JSONStreamError(place.text(), NOT_UTF8) from None
    except (ijson.JSONError, json.JSONDecodeError) as error:  # the exact backend: both
        raise JSONStreamError(place.text(), _reason(error)) from None


def list_items(
    source: IO[bytes], key: str, *, step: Callable[[int], None], backend: ModuleType = FAST
) -> Iterator[Any]:
    """The items of the top-level list ``key``, for a file ``members`` already checked.

    On the C backend the parser builds them itself, several times faster than
    ``members`` (which builds in Python to know each item's place); errors only say
    which list they were found in.
    """
    if backend is not FAST:
        for part in members(source, lists=(key,), build=(key,), step=step, backend=backend):
            if part.key == key and part.index is not None:
                yield part.value
        return
    reader = _CountingReader(source)
    try:
        for item in backend.items(reader, f"{key}.item", use_float=True):
            step(reader.done)
            yield item
    except UnicodeDecodeError:
        raise JSONStreamError(key, NOT_UTF8) from None
    except (ijson.JSONError, json.JSONDecodeError) as error:
        raise JSONStreamError(key, _reason(error)) from None


@dataclass
class _Place:
    """Where the parse is, for error messages: ``messages[12].metadata.tokens``.

    It keeps the last event read: the problem is in the value that follows it.
    """

    key: str | None = None
    index: int | None = None
    event: tuple[str, str, Any] = ("", "", None)

    def text(self) -> str:
        if self.key is None:
            return "the start of the file"
        where = self.key if self.index is None else f"{self.key}[{self.index}]"
        prefix, event, value = self.event
        if not prefix:  # the top-level object's own events
            return where
        inner = prefix.split(".")[1 if self.index is None else 2 :]
        if event == "map_key":
            inner.append(str(value))
        return where + "".join("[]" if name == "item" else f".{name}" for name in inner)


def _parts(
    events: Iterator[tuple[str, str, Any]],
    lists: Container[str],
    build: Container[str],
    place: _Place,
    reader: _CountingReader,
    step: Callable[[int], None],
) -> Iterator[Part]:
    first = next(events, None)
    if first is None:
        raise JSONStreamError("the file", "it is empty")
    if first[1] != "start_map":
        raise JSONStreamError("the file", NOT_AN_OBJECT)
    keys: set[str] = set()
    key = ""
    in_list = False
    index = -1  # of the item being read in a list member
    builder: ObjectBuilder | None = None
    depth = 0  # inside the member or item being read
    for place.event in events:
        _prefix, event, value = place.event
        if event == "number" and type(value) is int and value not in _INT64:
            raise JSONStreamError(place.text(), BEYOND_64_BITS)  # as yajl says of its own
        if depth:
            if event in _OPEN:
                depth += 1
            elif event in _CLOSE:
                depth -= 1
            if builder is not None:
                builder.event(event, value)
            if not depth:
                yield Part(key, place.index, builder.value if builder is not None else None)
                builder = None
            continue
        if in_list and event == "end_array":
            in_list, place.index = False, None
            continue
        if not in_list:
            if event == "map_key":
                if value in keys:
                    raise JSONStreamError(value, "this member appears twice")
                keys.add(value)
                key = place.key = value
                continue
            if event == "end_map":  # the top-level object is complete
                place.key, place.index = "the end of the file", None
                place.event = ("", "", None)
                continue
            if event == "start_array" and key in lists:
                in_list, index = True, -1
                step(reader.done)
                yield Part(key, None, [])
                continue
        if in_list:
            index += 1
            place.index = index
        step(reader.done)
        if event in _OPEN:
            depth = 1
            if key in build:
                builder = ObjectBuilder()
                builder.event(event, value)
        else:
            yield Part(key, place.index, value if key in build else None)


def _reason(error: Exception) -> str:
    """ijson's message, first line only (yajl adds a picture of the text around it)."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "utf-8" in text.lower() or "utf8" in text.lower():
        return NOT_UTF8
    if "premature EOF" in text or text.startswith("Incomplete"):
        return "the file ends too soon"
    if "integer overflow" in text:
        return BEYOND_64_BITS
    if re.match(r"Unexpected symbol '-?[0-9]+'", text):  # the exact backend's long number
        return BEYOND_64_BITS
    if "overflow" in text or re.match(r"Unexpected symbol '[-0-9]", text):
        return OUT_OF_RANGE
    for noise in ("parse error: ", "lexical error: "):
        text = text.removeprefix(noise)
    return text[:120]
