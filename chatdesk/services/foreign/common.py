"""What every reader of another app's export shares: the stream, the checks, the tree.

One module so the four readers agree on the rules: a conversation is streamed from the
file one at a time (never the whole file), a value that is not what the app writes is a
``FormatError`` naming its place (``conversations[12].mapping["ab12"].message``), times
and limits are read one way, and a tree whose parent links were written by another
program is put parents-first without recursion and without trusting it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import ModuleType
from typing import IO, Any, Protocol

import ijson
from ijson.common import ObjectBuilder

from chatdesk.services.foreign.chat import ForeignMessage, FormatError, Step
from chatdesk.services.json_stream import EXACT, FAST, NOT_UTF8, backend_for
from chatdesk.services.json_stream import _reason as parse_reason
from chatdesk.services.messages import MAX_CONTENT_CHARS
from chatdesk.services.threads import (
    MAX_SYSTEM_PROMPT_CHARS,
    MAX_TITLE_CHARS,
    sanitise_title,
    title_from_text,
)
from chatdesk.services.transfer import MAX_MODEL_CHARS

MAX_CONVERSATION_BYTES = 100_000_000
"""JSON one conversation may take: it is built whole in memory (a few times its size),
so a file of one giant conversation is refused instead of swallowing the machine;
real ones run to a few megabytes."""
MAX_DEPTH = 64
"""JSON nesting the readers accept. The apps write at most about 15 levels; ijson keeps
a prefix string per open level, so 20,000 levels (40 kB of brackets) would take a
gigabyte: the stream is refused before the parser sees such a file."""
MAX_REF_CHARS = 200
"""An id longer than this is not one the apps write (they use UUIDs)."""
MAX_SHOWN = 60
"""Characters of a bad value or id quoted back in an error."""
CHUNK = 1 << 16
_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))
_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})
_BACKTICKS = re.compile("`{3,}")
_PLAIN_UNSAFE = re.compile("[\x00\ud800-\udfff]")


# -- places and values --------------------------------------------------------------------


def shown(value: object) -> str:
    """A value quoted in an error: short, one line, any text storable."""
    text = value if isinstance(value, str) else repr(value)
    text = _PLAIN_UNSAFE.sub("\ufffd", text)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def at(place: str, key: str) -> str:
    """``place.key`` for a field name, ``place["key"]`` for an id used as a key."""
    if key.isidentifier():
        return f"{place}.{key}"
    return f'{place}["{shown(key)}"]'


def key_at(place: str, key: str) -> str:
    """``place["key"]``: a member of an object whose keys are ids."""
    return f'{place}["{shown(key)}"]'


def obj(value: object, place: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(place, "expected an object")
    return value


def items_of(value: object, place: str) -> list[Any]:
    """A list; a missing (null) list is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise FormatError(place, "expected a list")
    return value


def text_or_none(item: Mapping[str, Any], key: str, place: str) -> str | None:
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    raise FormatError(at(place, key), "expected text")


def flag(item: Mapping[str, Any], key: str) -> bool:
    """A true/false field; anything but ``true`` counts as false (the apps omit it)."""
    return item.get(key) is True


def ref_of(value: object, place: str) -> str:
    """An id as text (whole numbers are taken as their digits)."""
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_REF_CHARS:
        return value
    raise FormatError(place, f"{shown(value)} is not an id")


def optional_ref(value: object, place: str) -> str | None:
    return None if value is None else ref_of(value, place)


def content(text: str, place: str) -> str:
    """Message text, kept exactly (NUL and lone surrogates too), within the store's limit."""
    if len(text) > MAX_CONTENT_CHARS:
        raise FormatError(
            place,
            f"the message has {len(text):,} characters; chatdesk keeps at most "
            f"{MAX_CONTENT_CHARS:,} in one message",
        )
    return text


def missing_files(value: object, place: str, *names: str) -> list[str]:
    """A note per file an export only names (the file is not in it), by the first of
    ``names`` the item has."""
    notes = []
    for index, item in enumerate(items_of(value, place)):
        where = f"{place}[{index}]"
        entry = obj(item, where)
        name = next((found for key in names if (found := text_or_none(entry, key, where))), None)
        notes.append(f"Attachment “{shown(name or '(unnamed)')}” was not in the export.")
    return notes


def plain(value: str | None, limit: int = MAX_MODEL_CHARS) -> str | None:
    """Text for a plain column (a model name): no NUL, no lone surrogate, within ``limit``."""
    if value is None:
        return None
    cleaned = _PLAIN_UNSAFE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)
    cleaned = cleaned.strip()[:limit]
    return cleaned or None


def title(value: str | None, messages: list[ForeignMessage], fallback: str) -> str:
    """A chat's title: one visible line (NUL and controls gone), shortened at a word when
    too long (harmless, unlike a long message); from the first question when missing."""
    cleaned = sanitise_title(value or "")
    if not cleaned:
        first = next((m.content for m in messages if m.role == "user" and m.content), "")
        made = title_from_text(first, MAX_TITLE_CHARS) if first else ""
        return made if made and made != "New chat" else fallback
    if len(cleaned) <= MAX_TITLE_CHARS:
        return cleaned
    cut = cleaned[: MAX_TITLE_CHARS - 1]
    if " " in cut[MAX_TITLE_CHARS // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:") + "…"


def system_prompt(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """A chat's system prompt within chatdesk's limit, and a chat note when it was cut."""
    if text is None or not text.strip():
        return None, ()
    if len(text) <= MAX_SYSTEM_PROMPT_CHARS:
        return text, ()
    note = f"The system prompt was shortened to {MAX_SYSTEM_PROMPT_CHARS:,} characters."
    return text[:MAX_SYSTEM_PROMPT_CHARS], (note,)


def fenced(text: str, language: str = "") -> str:
    """``text`` in a backtick fence longer than any backtick run inside it, kept exactly."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{language}\n{body}{fence}"


def as_json(value: object, place: str) -> str:
    """A tool's arguments or result shown as indented JSON, its nesting checked first."""
    check_depth(value, place)
    return json.dumps(value, ensure_ascii=False, indent=2)


def check_depth(value: object, place: str, limit: int = 32) -> None:
    """Refuse a value nested deeper than ``limit`` before it is walked or written as JSON
    (``json.dumps`` recurses). Iterative: the check itself cannot overflow."""
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            raise FormatError(place, f"nested more than {limit} levels deep")
        if isinstance(item, dict):
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, depth + 1) for v in item)


# -- times ----------------------------------------------------------------------------------


def epoch_time(value: object, place: str) -> datetime | None:
    """Seconds since 1970 (ChatGPT, Open WebUI) as a UTC time; null is no time."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise FormatError(place, f"{shown(value)} is not a time")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise FormatError(place, f"{shown(value)} is not a time") from None


def iso_time(value: object, place: str) -> datetime | None:
    """An ISO 8601 time (Claude, LibreChat) in UTC; null is no time.

    A time without a zone is taken as UTC: both apps write UTC (``...Z``), and a zone
    lost on the way most likely was that one.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormatError(place, f"{shown(value)} is not a time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FormatError(place, f"{shown(value)} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise FormatError(place, f"{shown(value)} is out of range") from None


# -- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A node of a conversation before its tree is settled.

    ``message`` None marks a node that is not kept (a root without a message, a hidden
    system message): its children move up to the nearest kept ancestor.
    """

    ref: str
    parent: str | None
    place: str
    message: ForeignMessage | None


@dataclass(frozen=True)
class Settled:
    """The kept messages parents-first, and where each node's path lands among them."""

    messages: list[ForeignMessage]
    kept: dict[str, str | None]
    """Every node's ref -> the ref of itself or its nearest kept ancestor (None: none)."""

    def leaf(self, ref: str | None) -> str | None:
        return None if ref is None else self.kept.get(ref)


def missing_parent_note(ref: str) -> str:
    return f"The message this one followed (“{shown(ref)}”) is not in the export."


def settle(drafts: list[Draft], place: str) -> Settled:
    """Put ``drafts`` parents-first (versions oldest first), without recursion.

    An id used twice and parent links that go round in a circle are errors; a parent
    that is not in the conversation makes the node a root, with a note on its message.
    """
    by_ref: dict[str, int] = {}
    for index, draft in enumerate(drafts):
        if draft.ref in by_ref:
            raise FormatError(draft.place, f"the id “{shown(draft.ref)}” is used twice")
        by_ref[draft.ref] = index
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    orphans: set[int] = set()
    for index, draft in enumerate(drafts):
        parent = by_ref.get(draft.parent) if draft.parent is not None else None
        if draft.parent is not None and parent is None:
            orphans.add(index)
        if parent is None:
            roots.append(index)
        else:
            children.setdefault(parent, []).append(index)

    def version_order(index: int) -> tuple[bool, datetime, int]:
        message = drafts[index].message
        moment = message.created_at if message is not None else None
        return (moment is None, moment or datetime.min.replace(tzinfo=UTC), index)

    order: list[int] = []
    stack = sorted(roots, key=version_order, reverse=True)
    while stack:
        index = stack.pop()
        order.append(index)
        stack.extend(sorted(children.get(index, ()), key=version_order, reverse=True))
    if len(order) < len(drafts):
        seen = set(order)
        stuck = next(d for i, d in enumerate(drafts) if i not in seen)
        raise FormatError(stuck.place, "its parent links go round in a circle")

    kept: dict[str, str | None] = {}
    messages: list[ForeignMessage] = []
    for index in order:
        draft = drafts[index]
        above = None if index in orphans or draft.parent is None else kept[draft.parent]
        if draft.message is None:
            kept[draft.ref] = above
            continue
        kept[draft.ref] = draft.ref
        message = replace(draft.message, ref=draft.ref, parent=above)
        if index in orphans:
            assert draft.parent is not None
            message = replace(message, notes=(*message.notes, missing_parent_note(draft.parent)))
        messages.append(message)
    return Settled(messages, kept)


# -- the stream -----------------------------------------------------------------------------


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class GuardedReader:
    """The file as the parser reads it: a UTF-8 BOM skipped, bytes counted, and nesting
    deeper than ``MAX_DEPTH`` refused as it streams by (strings skipped at C speed),
    so a small hostile file cannot make the parser's prefixes eat the memory."""

    def __init__(
        self,
        source: Readable,
        limit: int | None = MAX_DEPTH,
        budget: int | None = None,
    ) -> None:
        self._source = source
        self._limit = limit
        self._budget = budget
        self.marked = 0
        """``done`` where the conversation being read began (``mark``)."""
        self.done = 0
        self._depth = 0
        self._in_string = False  # the last chunk ended inside a string
        self._escaped = False  # ... right after a backslash

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks once, to learn whether the file gives bytes
            return b""
        data = self._source.read(CHUNK if size < 0 else size)
        if self.done == 0 and data.startswith(_UTF8_BOM):
            data = data[len(_UTF8_BOM) :]
            self.done += len(_UTF8_BOM)
        self.done += len(data)
        if self._budget is not None and self.done - self.marked > self._budget + CHUNK:
            raise TooBig
        if self._limit is not None:
            self._watch(data, self._limit)
        return data

    def mark(self) -> None:
        """A conversation ends here: the next one's bytes are counted from now."""
        self.marked = self.done

    def _watch(self, data: bytes, limit: int) -> None:
        start = 0
        if self._in_string:  # the end of a string the last chunk began
            start = 1 if self._escaped else 0
            end = _STRING_REST.match(data, start)
            if end is None:
                self._escaped = _odd_backslashes(data[start:]) if start < len(data) else False
                return
            self._in_string = self._escaped = False
            start = end.end()
        rest = data[start:]
        outside = _STRING.sub(b"", rest)
        quote = outside.find(b'"')
        if quote >= 0:  # a string goes on into the next chunk
            begun = len(rest) - (len(outside) - quote)
            self._in_string = True
            self._escaped = _odd_backslashes(rest[begun + 1 :])
            outside = outside[:quote]
        brackets = outside.translate(None, _NOT_BRACKETS)
        if not brackets:
            return
        opened = brackets.count(b"[") + brackets.count(b"{")
        if self._depth + opened > limit:
            depth = self._depth
            for byte in brackets:
                depth += _STEP[byte]
                if depth > limit:
                    raise TooDeep
        self._depth += 2 * opened - len(brackets)


def _odd_backslashes(text: bytes) -> bool:
    """Whether ``text`` (inside a string) ends escaping the next byte."""
    return (len(text) - len(text.rstrip(b"\\"))) % 2 == 1


class TooDeep(Exception):
    pass


class TooBig(Exception):
    pass


def too_big() -> str:
    return (
        f"one conversation of over {MAX_CONVERSATION_BYTES:,} bytes of JSON; chatdesk "
        "imports conversations up to that size"
    )


def top_level(reader: GuardedReader, size: int = CHUNK) -> tuple[bytes, str]:
    """The first bytes of the file and its first character (``[`` or ``{``)."""
    head = b""
    while True:
        chunk = reader.read(size)
        head += chunk
        stripped = head.lstrip(b" \t\r\n")
        if stripped or not chunk:
            break
    if head.startswith(_OTHER_BOMS) or head[:4].count(b"\x00") >= 1:
        raise FormatError("", "This file is UTF-16 or UTF-32 text; exports are read as UTF-8.")
    stripped = head.lstrip(b" \t\r\n")
    if not stripped:
        raise FormatError("", "The file is empty.")
    first = stripped[:1].decode("latin-1")
    return head, first


class Replay:
    """``head`` again, then the rest of ``reader``: the first bytes were read to look."""

    def __init__(self, head: bytes, reader: GuardedReader) -> None:
        self._head = head
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self._head:
            data, self._head = self._head, b""
            return data
        return self._reader.read(size)


def conversations(
    source: IO[bytes], step: Step, name: str, *, single: bool = True
) -> Iterator[tuple[str, Any]]:
    """Each conversation of the file with its place (``conversations[3]``), built one at
    a time by ijson's C parser (exact one when a lone surrogate needs it).

    The file is a JSON list of conversations, or (``single``) one conversation object.
    ``step(bytes read)`` runs after each conversation is read and may raise to cancel.
    """
    backend = _backend(source)
    reader = GuardedReader(source, budget=MAX_CONVERSATION_BYTES)
    try:
        head, first = top_level(reader)
    except TooDeep:
        raise FormatError(f"{name}[0]", f"nested more than {MAX_DEPTH} levels deep") from None
    if first not in "[{" or (first == "{" and not single):
        raise FormatError("", "This file does not hold a list of conversations (JSON).")
    prefix = "item" if first == "[" else ""
    index = 0
    place = f"{name}[0]" if first == "[" else name
    stream = backend.items(Replay(head, reader), prefix, use_float=True)
    while True:
        try:
            item = next(stream)
        except StopIteration:
            return
        except TooDeep:
            raise FormatError(place, f"nested more than {MAX_DEPTH} levels deep") from None
        except TooBig:
            raise FormatError(place, too_big()) from None
        except UnicodeDecodeError:
            raise FormatError(place, NOT_UTF8) from None
        except (ijson.JSONError, ValueError) as error:  # ValueError: the exact parser's
            raise FormatError(place, parse_reason(error)) from None
        yield place, item
        reader.mark()
        step(reader.done)
        index += 1
        place = f"{name}[{index}]"


def deep_conversations(source: IO[bytes], step: Step, name: str) -> Iterator[tuple[str, Any]]:
    """Like ``conversations``, for files whose structure nests as deep as a chat is long
    (LibreChat's nested export): ijson's prefixes would grow with the square of the
    depth, so the events are read without them and built here, iteratively. Slower
    than ``conversations`` (Python per event): for files of one conversation."""
    backend = _backend(source)
    reader = GuardedReader(source, limit=None, budget=MAX_CONVERSATION_BYTES)
    head, first = top_level(reader)
    if first not in "[{":
        raise FormatError("", "This file does not hold a conversation (JSON).")
    index = 0
    place = f"{name}[0]" if first == "[" else name
    events = _checked(backend.basic_parse(Replay(head, reader), use_float=True), lambda: place)
    if first == "[":
        next(events)  # the list's start
    builder: ObjectBuilder | None = None
    depth = 0
    for event, value in events:
        if builder is None:
            if event == "end_array" and first == "[":
                continue  # the list's end: the parser still checks what follows
            builder = ObjectBuilder()
        builder.event(event, value)
        if event in _OPEN:
            depth += 1
        elif event in _CLOSE:
            depth -= 1
        if depth:
            continue
        yield place, builder.value
        builder = None
        reader.mark()
        step(reader.done)
        index += 1
        place = f"{name}[{index}]"


def _checked(events: Iterator[Any], place: Callable[[], str]) -> Iterator[Any]:
    """``events`` with the parser's errors as ``FormatError``s at ``place()``."""
    try:
        yield from events
    except TooBig:
        raise FormatError(place(), too_big()) from None
    except UnicodeDecodeError:
        raise FormatError(place(), NOT_UTF8) from None
    except (ijson.JSONError, ValueError) as error:  # ValueError: the exact parser's
        raise FormatError(place(), parse_reason(error)) from None


def _backend(source: IO[bytes]) -> ModuleType:
    """The exact parser when the file holds a lone surrogate escape (which the C parser
    spoils), found by a scan at memchr speed; a file that cannot rewind gets the C one."""
    if not source.seekable():
        return FAST
    start = source.tell()
    backend = backend_for(source, lambda _done: None)
    source.seek(start)
    return EXACT if backend is EXACT else FAST
