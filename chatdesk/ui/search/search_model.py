"""Message search results as a Qt list model, newest match first.

Rows are the service's ``SearchHit``s. A snippet arrives with ``HIGHLIGHT_START`` /
``HIGHLIGHT_END`` around the matched words; the model turns it once, when the hit
arrives, into plain text plus the character ranges to show in bold (``SnippetParts``),
so painting never parses. Snippets are untrusted text: control characters and
direction overrides are dropped and whitespace is folded to single spaces; nothing is
ever interpreted as markup.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import auto
from typing import Any

from PySide6.QtCore import QObject, Qt

from chatdesk.services.search import HIGHLIGHT_END, HIGHLIGHT_START, SearchHit
from chatdesk.ui.chat.plain_text import strip_markup
from chatdesk.ui.list_model import ListModel, Roles
from chatdesk.ui.time_format import short_time

_SPACES = re.compile(r"\s+")


class SearchRoles(Roles):
    """Data roles of ``SearchResultsModel`` (names in ``roleNames()``)."""

    MessageId = auto()
    ThreadId = auto()
    ThreadTitle = auto()
    Snippet = auto()
    SnippetParts = auto()
    CreatedAt = auto()
    DateText = auto()
    Role = auto()


@dataclass(frozen=True)
class SnippetParts:
    """A snippet as plain text and the (start, length) ranges of its matched words."""

    text: str
    bold: tuple[tuple[int, int], ...]


def _safe_char(ch: str) -> str:
    """Drop control and format characters (bidi overrides, zero-width) of untrusted text."""
    if ch.isspace():
        return " "
    return "" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch


def parse_snippet(snippet: str) -> SnippetParts:
    """Split a marked snippet into plain text and bold ranges; stray markers are dropped,
    and so are Markdown marks (a snippet reads as text, like the thread preview)."""
    text: list[str] = []
    bold: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for part in re.split(f"([{HIGHLIGHT_START}{HIGHLIGHT_END}])", snippet):
        if part == HIGHLIGHT_START:
            start = length
        elif part == HIGHLIGHT_END:
            if start is not None and length > start:
                bold.append((start, length - start))
            start = None
        elif part:
            clean = "".join(_safe_char(ch) for ch in strip_markup(part))
            if length == 0 or text[-1].endswith(" "):
                clean = clean.lstrip(" ")
            clean = _SPACES.sub(" ", clean)
            text.append(clean)
            length += len(clean)
    if start is not None and length > start:
        bold.append((start, length - start))
    return SnippetParts("".join(text).rstrip(), tuple(bold))


@dataclass(frozen=True)
class _Row:
    hit: SearchHit
    parts: SnippetParts
    title: str
    date_text: str


class SearchResultsModel(ListModel[_Row]):
    """The hits of one query; more pages append at the end."""

    roles = SearchRoles

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._has_more = False
        self.query = ""

    # -- reading ---------------------------------------------------------------------

    @property
    def has_more(self) -> bool:
        return self._has_more

    def hit(self, row: int) -> SearchHit:
        return self._rows[row].hit

    def last_message_id(self) -> int | None:
        return self._ids[-1] if self._ids else None

    def row_id(self, row: _Row) -> int:
        return row.hit.message_id

    def row_data(self, r: _Row, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return r.parts.text
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            return f"{r.title} — {r.date_text}: {r.parts.text}"
        if role == SearchRoles.MessageId:
            return r.hit.message_id
        if role == SearchRoles.ThreadId:
            return r.hit.thread_id
        if role == SearchRoles.ThreadTitle:
            return r.title
        if role == SearchRoles.Snippet:
            return r.hit.snippet
        if role == SearchRoles.SnippetParts:
            return r.parts
        if role == SearchRoles.CreatedAt:
            return r.hit.created_at
        if role == SearchRoles.DateText:
            return r.date_text
        if role == SearchRoles.Role:
            return r.hit.role.value
        return None

    # -- changing --------------------------------------------------------------------

    def set_hits(self, query: str, hits: list[SearchHit], has_more: bool) -> None:
        """Show the first page of ``query``'s results (replacing whatever was shown)."""
        self.query = query
        self._has_more = has_more
        self._reset_rows(_row(hit) for hit in hits)

    def append_hits(self, hits: list[SearchHit], has_more: bool) -> int:
        """Add the next page; hits already shown (or newer than the last) are skipped."""
        last = self.last_message_id()
        fresh = [h for h in hits if last is None or h.message_id < last]
        self._has_more = has_more
        self._insert_rows(len(self._rows), [_row(hit) for hit in fresh])
        return len(fresh)

    def clear(self) -> None:
        self.set_hits("", [], False)

    def remove_thread(self, thread_id: int) -> None:
        """Drop the rows of a thread that is being deleted, one range at a time."""
        row = len(self._rows) - 1
        while row >= 0:
            if self._rows[row].hit.thread_id != thread_id:
                row -= 1
                continue
            end = row
            while row - 1 >= 0 and self._rows[row - 1].hit.thread_id == thread_id:
                row -= 1
            self._remove_rows(row, end)
            row -= 1


def _row(hit: SearchHit) -> _Row:
    title = "".join(_safe_char(ch) for ch in hit.thread_title).strip() or "Untitled"
    return _Row(hit, parse_snippet(hit.snippet), title, short_time(hit.created_at))
