"""The person's threads as a Qt list model: pinned first, then most recent first.

Nothing here scales with the history: the model holds the threads read so far, a page
at a time by keyset (``canFetchMore``/``fetchMore``, which views call as they scroll),
and a title filter is a query, not a scan of loaded rows. The last thread read is the
*boundary*: every thread sorting before it is held (or hidden), none after it is.
Live changes keep that true row by row: a new thread is one ``beginInsertRows`` at its
sorted place, activity that moves a thread up is one ``beginMoveRows`` (plus
``dataChanged`` for what changed), a deletion one ``beginRemoveRows``; a thread that
moves past the boundary leaves until paging reaches it again. A thread can be *hidden*
while its deletion waits for Undo: it leaves the list but its record is kept to put it
back.

The last-message preview is read lazily on first ``data()`` for a row (one small
query for visible rows only) and then kept current from message changes.
"""

from __future__ import annotations

import bisect
import html
from datetime import date
from enum import auto
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.events import Change, ChangeKind
from chatdesk.services.patience import is_busy
from chatdesk.services.records import MessageRecord, ThreadRecord
from chatdesk.services.threads import title_matches
from chatdesk.ui.chat.plain_text import strip_markup
from chatdesk.ui.list_model import ROOT, ROW_FLAGS, Index, ListModel, Roles, changed_roles
from chatdesk.ui.time_format import PINNED, date_group, local_today, now_local, short_time

PREVIEW_CHARS = 140
PAGE_SIZE = 200  # rows per read: several screens, a few milliseconds
MAX_PAGED_ROWS = 400  # how far ``ensure_loaded`` reads on to find one thread


PREVIEW_READ_AHEAD = 40
"""Rows whose previews one read fetches: more than a screenful of the list."""


class ThreadRoles(Roles):
    """Data roles of ``ThreadListModel`` (names in ``roleNames()``)."""

    ThreadId = auto()
    Title = auto()
    UpdatedAt = auto()
    Preview = auto()
    Pinned = auto()
    Group = auto()
    Draft = auto()
    TimeText = auto()


_FIELD_ROLES: dict[str, tuple[int, ...]] = {
    "title": (ThreadRoles.Title, Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole),
    "pinned": (ThreadRoles.Pinned, ThreadRoles.Group),
    "updated_at": (ThreadRoles.UpdatedAt, ThreadRoles.Group, ThreadRoles.TimeText),
    "draft": (ThreadRoles.Draft, ThreadRoles.Preview),
}


def sort_key(t: ThreadRecord) -> tuple[bool, float, int]:
    """Pinned first, then newest activity, then newest id (the services' own order)."""
    return (not t.pinned, -t.updated_at.timestamp(), -t.id)


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """A message as one plain line for previews (Markdown marks dropped, whitespace folded)."""
    flat = " ".join(strip_markup(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class ThreadListModel(ListModel[ThreadRecord]):
    """Threads of one user.

    Signals:
        rename_failed: a rename was refused (int thread id, str reason).
        rename_busy: a rename found the database busy; nothing changed yet, the title
            may be tried again later (int thread id, str title).
    """

    rename_failed = Signal(int, str)
    rename_busy = Signal(int, str)
    roles = ThreadRoles
    row_flags = ROW_FLAGS | Qt.ItemFlag.ItemIsEditable

    def __init__(self, services: Services, user_id: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._services = services
        self._user_id = user_id
        self._keys: list[tuple[bool, float, int]] = []
        self._hidden: dict[int, ThreadRecord] = {}
        self._previews: dict[int, tuple[int, str]] = {}
        self._filter = ""
        self._label_cache: dict[int, tuple[ThreadRecord, date, str, str]] = {}
        self._boundary: ThreadRecord | None = None  # the last thread read
        self._exhausted = False  # every thread (matching the filter) has been read
        # Which rows start a date group (they carry its header), worked out once per
        # change of the rows and day: every layout of the list asks it of every row.
        self._starts: tuple[date, list[bool]] | None = None
        for changed in (self.rowsInserted, self.rowsRemoved, self.rowsMoved, self.modelReset):
            changed.connect(self._forget_group_starts)
        self.dataChanged.connect(self._on_own_data_changed)

    # -- reading ---------------------------------------------------------------------

    @property
    def title_filter(self) -> str:
        return self._filter

    def set_title_filter(self, text: str) -> None:
        """Show only threads whose title contains ``text`` (read afresh from the store)."""
        text = " ".join(text.split())
        if text != self._filter:
            self._filter = text
            self.reload()

    def reload(self) -> None:
        """Start again from the first page (start-up, filter changes)."""
        self._boundary = None
        self._exhausted = False
        page = self._read_page(PAGE_SIZE, fresh=True)
        self._keys = [sort_key(t) for t in page]
        self._reset_rows(page)

    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: Index = ROOT) -> None:
        if parent.isValid() or self._exhausted:
            return
        page = self._read_page(PAGE_SIZE)
        self._keys.extend(sort_key(t) for t in page)
        self._insert_rows(len(self._rows), page)

    def ensure_loaded(self, thread_id: int) -> int | None:
        """Page on until ``thread_id`` is held; its row, or None if it is not listed.

        Paging stops at ``MAX_PAGED_ROWS``: a thread further down is opened without
        reading every thread above it (the list shows it once scrolled to).
        """
        row = self.row_of(thread_id)
        if row is not None or thread_id in self._hidden:
            return row
        try:
            record = self._services.threads.get(self._user_id, thread_id)
        except ServiceError:
            return None
        if not title_matches(record.title, self._filter):
            return None
        while (
            not self._exhausted
            and not self._within_boundary(sort_key(record))
            and len(self._rows) < MAX_PAGED_ROWS
        ):
            self.fetchMore()
        return self.row_of(thread_id)

    def _read_page(self, limit: int, *, fresh: bool = False) -> list[ThreadRecord]:
        """The next page after the boundary, less hidden threads and (unless the rows
        are read ``fresh``) the ones already held."""
        try:
            page = self._services.threads.list(
                self._user_id, limit=limit, after=self._boundary, title_contains=self._filter
            )
        except ServiceError:
            page = []
        if len(page) < limit:
            self._exhausted = True
        if page:
            self._boundary = page[-1]
        return [
            t for t in page if t.id not in self._hidden and (fresh or self.row_of(t.id) is None)
        ]

    def _within_boundary(self, key: tuple[bool, float, int]) -> bool:
        """Whether a thread with this sort key belongs among the rows read so far."""
        return self._exhausted or (self._boundary is not None and key <= sort_key(self._boundary))

    def record(self, thread_id: int) -> ThreadRecord | None:
        """The thread as listed, hidden, or (not read yet or filtered out) from the store."""
        row = self.row_of(thread_id)
        if row is not None:
            return self._rows[row]
        if thread_id in self._hidden:
            return self._hidden[thread_id]
        try:
            return self._services.threads.get(self._user_id, thread_id)
        except ServiceError:
            return None

    def thread_ids(self) -> list[int]:
        return list(self._ids)

    def preview(self, thread_id: int) -> str:
        """The last message in one line, read from the store the first time it is asked:
        with those of the rows after it that are not known yet (a screenful of new rows
        paints after two queries, not one page read per row)."""
        cached = self._previews.get(thread_id)
        if cached is None:
            row = self.row_of(thread_id)
            wanted = [thread_id]
            if row is not None:
                after = self._ids[row + 1 : row + PREVIEW_READ_AHEAD]
                wanted += [other for other in after if other not in self._previews]
            try:
                read = self._services.messages.previews(self._user_id, wanted)
            except ServiceError:
                return ""
            for other, (message_id, text) in read.items():
                self._previews[other] = (message_id, one_line(text))
            cached = self._previews.setdefault(thread_id, (0, ""))
        return cached[1]

    def row_id(self, row: ThreadRecord) -> int:
        return row.id

    def row_data(self, t: ThreadRecord, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, ThreadRoles.Title):
            return t.title
        if role == Qt.ItemDataRole.ToolTipRole:
            # Tooltips guess rich text: escape, and wrap so the escape is honoured.
            return f"<p>{html.escape(t.title)}</p>"
        if role == ThreadRoles.ThreadId:
            return t.id
        if role == ThreadRoles.UpdatedAt:
            return t.updated_at
        if role == ThreadRoles.Pinned:
            return t.pinned
        if role == ThreadRoles.Draft:
            return t.draft
        if role == ThreadRoles.Preview:
            if t.draft.strip():
                return "Draft: " + one_line(t.draft)
            return self.preview(t.id)
        if role == ThreadRoles.Group:
            return self._labels(t)[0]
        if role == ThreadRoles.TimeText:
            return self._labels(t)[1]
        return None

    def starts_group(self, row: int) -> bool:
        """Whether ``row`` is the first of its date group (so shows the group's header)."""
        today = local_today()
        if self._starts is None or self._starts[0] != today:
            groups = [self._labels(t, today)[0] for t in self._rows]
            starts = [n == 0 or groups[n] != groups[n - 1] for n in range(len(groups))]
            self._starts = (today, starts)
        flags = self._starts[1]
        return flags[row] if 0 <= row < len(flags) else False

    def _forget_group_starts(self, *_args: object) -> None:
        self._starts = None

    def _on_own_data_changed(self, _first: Index, _last: Index, roles: list[int]) -> None:
        if not roles or ThreadRoles.Group in roles:
            self._starts = None

    def _labels(self, t: ThreadRecord, today: date | None = None) -> tuple[str, str]:
        """Date group and time text, kept per record and day: every re-layout of the
        list asks each row for its group (row heights depend on group headers)."""
        today = today or local_today()
        cached = self._label_cache.get(t.id)
        if cached is not None and cached[0] is t and cached[1] == today:
            return cached[2], cached[3]
        now = now_local()
        group = PINNED if t.pinned else date_group(t.updated_at, now)
        labels = (group, short_time(t.updated_at, now))
        self._label_cache[t.id] = (t, today, *labels)
        return labels

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Inline rename: the title is written through the thread service."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        t = self._rows[index.row()]
        title = str(value)
        if " ".join(title.split()) == t.title:
            return False
        try:
            self._services.threads.rename(self._user_id, t.id, title)
        except ServiceError as error:
            if is_busy(error):
                self.rename_busy.emit(t.id, title)
            else:
                self.rename_failed.emit(t.id, str(error))
            return False
        return True  # the bus already told us (dataChanged emitted by on_thread_changed)

    # -- hiding while a delete waits for Undo ---------------------------------------

    def hide(self, thread_id: int) -> bool:
        """Take a thread out of the list (filtered out or not read yet, it stays out)."""
        if thread_id in self._hidden:
            return False
        row = self.row_of(thread_id)
        if row is None:
            try:
                self._hidden[thread_id] = self._services.threads.get(self._user_id, thread_id)
            except ServiceError:
                return False
            return True
        self._hidden[thread_id] = self._rows[row]
        self._remove_row(row)
        return True

    def unhide(self, thread_id: int) -> int | None:
        """Put a hidden thread back; returns its row."""
        record = self._hidden.pop(thread_id, None)
        if record is None or not title_matches(record.title, self._filter):
            return None
        if not self._within_boundary(sort_key(record)):
            return None  # paging will bring it back in its place
        return self._insert(record)

    def is_hidden(self, thread_id: int) -> bool:
        return thread_id in self._hidden

    # -- live changes ----------------------------------------------------------------

    def on_thread_changed(self, change: Change) -> None:
        if change.kind is ChangeKind.DELETED:
            self._hidden.pop(change.id, None)
            self._previews.pop(change.id, None)
            self._label_cache.pop(change.id, None)
            row = self.row_of(change.id)
            if row is not None:
                self._remove_row(row)
            return
        record = change.record
        if not isinstance(record, ThreadRecord):
            return
        if change.id in self._hidden:
            self._hidden[change.id] = record
            return
        leaf = change.fields.get("current_leaf_id")
        known = self._previews.get(change.id)
        if leaf is not None and known is not None and known[0] != leaf:
            self._previews.pop(change.id, None)  # the path now ends elsewhere: read again
            self._emit_preview(change.id)
        row = self.row_of(change.id)
        listed = title_matches(record.title, self._filter) and self._within_boundary(
            sort_key(record)
        )
        if not listed:
            if row is not None:
                self._remove_row(row)
        elif row is None:
            self._insert(record)
        else:
            self._update(row, record, change.fields)

    def on_message_changed(self, change: Change) -> None:
        """Keep the preview of the thread's last message current."""
        if change.kind is ChangeKind.DELETED:
            known = self._previews.get(change.thread_id)
            if known is not None and known[0] == change.id:
                self._previews.pop(change.thread_id, None)
                self._emit_preview(change.thread_id)
            return
        record = change.record
        if not isinstance(record, MessageRecord):
            return
        if not record.content.strip():
            return  # a reply with no words yet: the last words stay the preview
        known = self._previews.get(record.thread_id)
        if known is not None and record.id < known[0]:
            return
        if known is None and change.kind is not ChangeKind.CREATED:
            return  # never shown yet; it will be read when needed
        self._previews[record.thread_id] = (record.id, one_line(record.content))
        self._emit_preview(record.thread_id)

    def _emit_preview(self, thread_id: int) -> None:
        row = self.row_of(thread_id)
        if row is not None:
            self._emit_changed(row, (ThreadRoles.Preview,))

    def _insert(self, record: ThreadRecord) -> int:
        key = sort_key(record)
        pos = bisect.bisect_left(self._keys, key)
        self._keys.insert(pos, key)
        self._insert_rows(pos, [record])
        return pos

    def _remove_row(self, row: int) -> None:
        del self._keys[row]
        self._remove_rows(row, row)

    def _update(self, row: int, record: ThreadRecord, fields: Any) -> None:
        old = self._rows[row]
        key = sort_key(record)
        # Where it belongs among the others (computed without itself).
        others = self._keys[:row] + self._keys[row + 1 :]
        new_row = bisect.bisect_left(others, key)
        del self._keys[row]
        self._keys.insert(new_row, key)
        if new_row != row:
            self._move_row(row, new_row, record)
        else:
            self._set_row(row, record)
        roles = changed_roles(fields, _FIELD_ROLES)
        if old.title != record.title:
            roles.update(_FIELD_ROLES["title"])
        if old.pinned != record.pinned:
            roles.update(_FIELD_ROLES["pinned"])
        if old.updated_at != record.updated_at:
            roles.update(_FIELD_ROLES["updated_at"])
        if old.draft != record.draft:
            roles.update(_FIELD_ROLES["draft"])
        if old.pinned == record.pinned and self._labels(old)[0] == self._labels(record)[0]:
            roles.discard(ThreadRoles.Group)  # same group: row heights stay as they are
        if roles:
            self._emit_changed(new_row, roles)
