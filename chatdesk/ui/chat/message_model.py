"""The messages of the open thread as a Qt list model, newest page first.

The model holds plain ``MessageRecord``s in ascending id order. It loads the newest
page (50) when a thread opens and older pages on request (keyset pagination on
``before_id``). Opened at a message far back (a search result), it holds a window
around that message and pages newer messages too (``after_id``) until it joins the
live end; new messages arriving meanwhile are left to that paging. It follows the
change bus: a new message is one
``beginInsertRows``, an edit or status change is one ``dataChanged`` naming only the
roles that changed. Execution changes seen on the bus are kept so that bubbles can show
their run's error, and a reply's ``usage`` (its run's tokens and cost, ``runs.usage_costs``)
comes with its page (``MessageRecord.run_tokens``) and follows its run's end on the bus.

A reply being written shows its streamed text, which is newer than the database's (saved
about once a second). The model keeps no copy of it: it reads it, while the reply is
pending or processing, from whoever holds it (``read_live_text_from``: the run
coordinator) and is told when it changed (``on_reply_text_changed``). So a chat opened
again mid-reply shows the reply as far as it has come, and a lagging save never makes
the bubble go back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from enum import auto
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from chatdesk.config import data_dir
from chatdesk.runs.usage_costs import Pricing, ReplyUsage, tokens_of
from chatdesk.services import Services, rerun_rules
from chatdesk.services.errors import NotFoundError, ServiceError
from chatdesk.services.events import Change, ChangeKind
from chatdesk.services.messages import MessagePage
from chatdesk.services.records import ExecutionRecord, MessageRecord
from chatdesk.ui.chat.citations import citations_of
from chatdesk.ui.list_model import ListModel, Roles, changed_roles
from chatdesk.vocabulary import (
    ACTIVE_MESSAGE_STATUSES,
    MessageStatus,
    Role,
)

log = logging.getLogger(__name__)
PAGE_SIZE = 10  # rows per read: a screenful; each new row costs a Markdown layout
# The window of rows held: paging further drops rows at the far end (read again when
# scrolled back to), so a long scroll through 100,000 messages stays as light as the
# first screen.
MAX_ROWS = 200


class MessageRoles(Roles):
    """Data roles of ``MessageListModel`` (names in ``roleNames()``)."""

    MessageId = auto()
    Role = auto()
    Content = auto()
    Status = auto()
    CreatedAt = auto()
    ExecutionId = auto()
    Error = auto()
    CanRetry = auto()
    RetryTarget = auto()
    ExecutionStatus = auto()
    Record = auto()
    ParentId = auto()
    VersionIndex = auto()
    VersionCount = auto()
    Attachments = auto()
    Citations = auto()
    Usage = auto()


FLIP_ROWS = PAGE_SIZE
"""Rows a version flip shows at once from the flipped message down (a screenful; the
list reads on as it scrolls, or at once when they do not fill it)."""
SETTLE_LEAF_MS = 100
"""After a flip, the path's new end is found and stored this long after (the page is
painted by then; the walk to a leaf 10,000 messages down takes ~6 ms)."""

LiveText = Callable[[int], str | None]
"""The streamed text of a reply being written, by message id (None: none streams)."""

_TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, MessageRoles.Content, MessageRoles.Record)
_SHOWN_TEXT_ROLES = frozenset((*_TEXT_ROLES, Qt.ItemDataRole.AccessibleTextRole))


def _nothing_streams(_message_id: int) -> str | None:
    return None


_FIELD_ROLES: dict[str, tuple[int, ...]] = {
    "content": (MessageRoles.Content, Qt.ItemDataRole.DisplayRole),
    "status": (MessageRoles.Status, MessageRoles.CanRetry, MessageRoles.RetryTarget),
    "execution_id": (MessageRoles.ExecutionId, MessageRoles.CanRetry, MessageRoles.RetryTarget),
    "metadata": (MessageRoles.Error, MessageRoles.Citations),
}


def attachment_rows(m: MessageRecord) -> list[dict[str, Any]]:
    """The ``attachments`` role: a message's files as plain dicts, in order."""
    return [
        {
            "id": file.id,
            "fileName": file.file_name,
            "mimeType": file.mime_type,
            "sizeBytes": file.size_bytes,
            "kind": file.kind.value,
        }
        for file in m.attachments
    ]


class MessageListModel(ListModel[MessageRecord]):
    """Messages of one thread, for one user.

    Signals:
        thread_loaded: a thread (or none) was opened (int, 0 for none).
        older_loaded: this many older messages were inserted at the top (int).
        newer_loaded: this many newer messages were appended at the bottom (int).
        activity_changed: whether the thread has a pending/processing message changed.
    """

    thread_loaded = Signal(int)
    older_loaded = Signal(int)
    newer_loaded = Signal(int)
    activity_changed = Signal()
    roles = MessageRoles

    def __init__(self, services: Services, user_id: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._services = services
        self._user_id = user_id
        self._thread_id: int | None = None
        self._has_older = False
        self._has_newer = False
        self._executions: dict[int, ExecutionRecord] = {}
        self._active_execution: int | None = None
        self._live_text: LiveText = _nothing_streams
        # The next page each way, read ahead in idle time (see ``upcoming``), keyed by
        # the loaded id it continues from.
        self._ahead: dict[bool, tuple[int, MessagePage]] = {}
        self.page_size = PAGE_SIZE
        self.max_rows = MAX_ROWS
        self._pricing: Pricing | None = None

    # -- reading ---------------------------------------------------------------------

    @property
    def thread_id(self) -> int | None:
        return self._thread_id

    @property
    def has_older(self) -> bool:
        return self._has_older

    @property
    def has_newer(self) -> bool:
        """Newer messages exist than the loaded ones (a window opened around a message)."""
        return self._has_newer

    def record(self, row: int) -> MessageRecord:
        """The message of ``row`` as shown (a reply being written: with its live text)."""
        return self._shown(self._rows[row])

    def _shown(self, m: MessageRecord) -> MessageRecord:
        if m.status not in ACTIVE_MESSAGE_STATUSES:
            return m
        text = self._live_text(m.id)
        return m if text is None or text == m.content else dataclasses.replace(m, content=text)

    def execution(self, execution_id: int | None) -> ExecutionRecord | None:
        return self._executions.get(execution_id) if execution_id is not None else None

    def row_id(self, row: MessageRecord) -> int:
        return row.id

    def row_data(self, m: MessageRecord, role: int) -> Any:
        if role in _SHOWN_TEXT_ROLES:
            m = self._shown(m)
        if role in (Qt.ItemDataRole.DisplayRole, MessageRoles.Content):
            return m.content
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{m.role.value}: {m.content}"
        if role == MessageRoles.MessageId:
            return m.id
        if role == MessageRoles.Role:
            return m.role.value
        if role == MessageRoles.Status:
            return m.status.value
        if role == MessageRoles.CreatedAt:
            return m.created_at
        if role == MessageRoles.ExecutionId:
            return m.execution_id
        if role == MessageRoles.Error:
            return self.error_of(m)
        if role == MessageRoles.RetryTarget:
            return self.retry_target(m)
        if role == MessageRoles.CanRetry:
            return self.retry_target(m) is not None
        if role == MessageRoles.ExecutionStatus:
            execution = self.execution(m.execution_id)
            return execution.status.value if execution else None
        if role == MessageRoles.Record:
            return m
        if role == MessageRoles.ParentId:
            return m.parent_id
        if role == MessageRoles.VersionIndex:
            return m.version.index if m.version else 1
        if role == MessageRoles.VersionCount:
            return m.version.count if m.version else 1
        if role == MessageRoles.Attachments:
            return attachment_rows(m)
        if role == MessageRoles.Citations:
            return [link.as_role() for link in citations_of(m.metadata)]
        if role == MessageRoles.Usage:
            return self.usage_of(m)
        return None

    @property
    def pricing(self) -> Pricing:
        """The prices the ``usage`` role uses (the data directory's, read on first use)."""
        if self._pricing is None:
            self._pricing = Pricing(data_dir(create=False))
        return self._pricing

    @pricing.setter
    def pricing(self, pricing: Pricing) -> None:
        self._pricing = pricing

    def usage_of(self, m: MessageRecord) -> ReplyUsage | None:
        """A reply's tokens in and out and cost (None: not a reply, or no tokens known)."""
        if m.role is not Role.ASSISTANT or m.execution_id is None:
            return None
        return self.pricing.reply_usage(m.run_tokens)

    def error_of(self, m: MessageRecord) -> str | None:
        """The reason a message failed: its own metadata, else its execution's error."""
        if m.status is not MessageStatus.FAILED:
            return None
        error = m.metadata.get("error")
        if isinstance(error, str) and error.strip():
            return error.strip()
        execution = self.execution(m.execution_id)
        if execution is None and m.execution_id is not None:
            execution = self._read_execution(m.execution_id)
        if execution is not None and execution.error:
            return execution.error
        return "The reply could not be completed."

    def _read_execution(self, execution_id: int) -> ExecutionRecord | None:
        """An execution the bus has not told us about (a failure from an earlier session)."""
        try:
            record = self._services.executions.get(self._user_id, execution_id)
        except ServiceError:
            return None
        self._executions[execution_id] = record
        return record

    def retry_target(self, m: MessageRecord) -> int | None:
        """The user message to send again from this bubble's Retry (``rerun_rules``)."""
        return rerun_rules.retry_target(self._rows, m)

    def last_user_message(self) -> MessageRecord | None:
        """The newest loaded message the person wrote (the newest page is always loaded)."""
        return rerun_rules.last_user_message(self._rows)

    def regenerate_target(self, m: MessageRecord | None = None) -> int | None:
        """The user message whose reply Regenerate asks for again (``rerun_rules``)."""
        return rerun_rules.regenerate_target(self._rows, m)

    def last_reply(self) -> MessageRecord | None:
        """The newest assistant message with text."""
        return next(
            (
                shown
                for m in reversed(self._rows)
                if m.role is Role.ASSISTANT and (shown := self._shown(m)).content.strip()
            ),
            None,
        )

    def active_execution_id(self) -> int | None:
        """The newest execution still pending or processing in this thread, if any."""
        for m in reversed(self._rows):
            if m.status in ACTIVE_MESSAGE_STATUSES and m.execution_id is not None:
                return m.execution_id
        return None

    def is_active(self) -> bool:
        return self.active_execution_id() is not None

    # -- loading ---------------------------------------------------------------------

    def load_thread(self, thread_id: int | None) -> None:
        """Open ``thread_id`` (None: nothing) with its newest page of messages."""
        page = None
        if thread_id is not None:
            page = self._services.messages.list(self._user_id, thread_id, limit=self.page_size)
        self._reset(thread_id, page)

    def load_around(self, message_id: int) -> int | None:
        """Show the open thread's window around ``message_id``; returns its row.

        Raises ``ServiceError`` if the message is gone or not in the open thread.
        """
        if self._thread_id is None:
            return None
        if self.row_of(message_id) is None:
            page = self._services.messages.around(
                self._user_id, self._thread_id, message_id, limit=self.page_size
            )
            self._reset(self._thread_id, page)
        return self.row_of(message_id)

    def switch_version(self, message_id: int, step: int) -> int | None:
        """Show the version ``step`` places from ``message_id`` (-1: the one before) with
        the conversation below it; the services remember the choice. Returns the row of
        the version now shown. Raises ``ServiceError`` if that cannot be written.

        The rows above stay as they are (their bubbles keep their layout); the flipped
        row and a screenful below it (``FLIP_ROWS``) replace what was there, so the frame
        that shows them lays out only those; the rest comes as the list scrolls on.
        """
        row = self.row_of(message_id)
        if self._thread_id is None or row is None:
            return None
        parent = self._rows[row].parent_id
        page = self._services.messages.switch_version(
            self._user_id, message_id, step, find_leaf=False, above=1, below=FLIP_ROWS
        )
        # the version shown now stands where the flipped one stood: below the same parent
        at = next((n for n, m in enumerate(page.messages) if m.parent_id == parent), None)
        if at is None:  # the path changed above it meanwhile (another window): start over
            self._reset(self._thread_id, page)
            return None
        self._ahead.clear()
        self._remove_rows(row, len(self._rows) - 1)
        self._insert_rows(row, page.messages[at:])
        self._has_newer = page.has_newer
        self._update_activity()
        QTimer.singleShot(SETTLE_LEAF_MS, self._settle_leaf)  # once painted: where it ends
        return row

    def _settle_leaf(self) -> None:
        if self._thread_id is not None:
            with contextlib.suppress(ServiceError):  # unset stays correct, only slower
                self._services.messages.settle_leaf(self._user_id, self._thread_id)

    def jump_to_newest(self) -> None:
        """Back to the newest page, if a window further back is shown."""
        if self._has_newer:
            self.load_thread(self._thread_id)

    def _reset(self, thread_id: int | None, page: MessagePage | None) -> None:
        self._thread_id = thread_id
        self._ahead.clear()
        self._has_older = page.has_older if page else False
        self._has_newer = page.has_newer if page else False
        self._reset_rows(page.messages if page else ())
        self._update_activity()
        self.thread_loaded.emit(thread_id or 0)

    def load_older(self) -> int:
        """Insert the page before the oldest loaded message; returns how many came."""
        if self._thread_id is None or not self._has_older or not self._ids:
            return 0
        page = self._next_page(older=True)
        older = [m for m in page.messages if self.row_of(m.id) is None]
        self._has_older = page.has_older
        if older:
            self._insert_rows(0, older)
            self._trim(from_end=True)
        self.older_loaded.emit(len(older))
        return len(older)

    def load_newer(self) -> int:
        """Append the page after the newest loaded message; returns how many came."""
        if self._thread_id is None or not self._has_newer or not self._ids:
            return 0
        page = self._next_page(older=False)
        newer = [m for m in page.messages if self.row_of(m.id) is None]
        self._has_newer = page.has_newer
        if newer:
            self._insert_rows(len(self._rows), newer)
            self._trim(from_end=False)
            self._update_activity()
        self.newer_loaded.emit(len(newer))
        return len(newer)

    def read_ahead(self, *, older: bool) -> bool:
        """Read the page paging would bring next that way; True if that took a read.

        Called in idle time (see ``MessageListView``), so the read and the bubbles'
        layout are done before the reader scrolls there, not in that frame.
        """
        if self._thread_id is None or not self._ids:
            return False
        if not (self._has_older if older else self._has_newer):
            return False
        ahead = self._ahead.get(older)
        if ahead is not None and ahead[0] == (self._ids[0] if older else self._ids[-1]):
            return False
        self._next_page(older=older, keep=True)
        return True

    def upcoming(self, *, older: bool) -> list[MessageRecord]:
        """The messages of the page read ahead that way (none if not read yet)."""
        ahead = self._ahead.get(older)
        if ahead is None or not self._ids:
            return []
        if ahead[0] != (self._ids[0] if older else self._ids[-1]):
            return []
        return list(ahead[1].messages)

    def _next_page(self, *, older: bool, keep: bool = False) -> MessagePage:
        """The page before the first (or after the last) loaded row: the one read
        ahead if it still continues from there, else read now."""
        assert self._thread_id is not None
        edge = self._ids[0] if older else self._ids[-1]
        ahead = self._ahead.pop(older, None)
        if ahead is not None and ahead[0] == edge:
            page = ahead[1]
        else:
            try:
                page = self._services.messages.list(
                    self._user_id,
                    self._thread_id,
                    limit=self.page_size,
                    before_id=edge if older else None,
                    after_id=None if older else edge,
                )
            except NotFoundError:  # another client deleted the edge row: read the path again
                self.load_thread(self._thread_id)
                return MessagePage([], has_older=self._has_older, has_newer=self._has_newer)
            except ServiceError as error:  # busy or unreadable: the next scroll tries again
                log.warning("could not read the next page of messages: %s", error)
                return MessagePage([], has_older=self._has_older, has_newer=self._has_newer)
        if keep:
            self._ahead[older] = (edge, page)
        return page

    def _trim(self, *, from_end: bool) -> None:
        """Drop rows beyond ``max_rows`` at the end away from the paging direction.

        Rows of a reply still running are never dropped (they carry Stop and the
        streamed text), so then the window simply stays larger.
        """
        excess = len(self._rows) - self.max_rows
        if excess <= 0:
            return
        first, last = (
            (len(self._rows) - excess, len(self._rows) - 1) if from_end else (0, excess - 1)
        )
        if any(m.status in ACTIVE_MESSAGE_STATUSES for m in self._rows[first : last + 1]):
            return
        self._remove_rows(first, last)
        if from_end:
            self._has_newer = True
        else:
            self._has_older = True

    # -- live changes ----------------------------------------------------------------

    def on_message_changed(self, change: Change) -> None:
        if self._thread_id is None or change.thread_id != self._thread_id:
            return
        self._ahead.clear()  # a page read ahead may hold this message as it was
        if change.kind is ChangeKind.DELETED:
            self._remove(change.id)
        elif isinstance(change.record, MessageRecord):
            if change.kind is ChangeKind.CREATED:
                self._insert(change.record)
            else:
                self._replace(change.record, change.fields)
        self._update_activity()

    def on_thread_changed(self, change: Change) -> None:
        """The open chat's path may have moved (a version chosen, a branch deleted or
        brought back, here or in another window): read it again if its end is not the
        last row shown."""
        if change.id != self._thread_id or change.kind is not ChangeKind.UPDATED:
            return
        if "current_leaf_id" not in change.fields or self._has_newer:
            return
        leaf = change.fields["current_leaf_id"]
        last = self._rows[-1].id if self._rows else None
        if leaf is not None and leaf != last:  # unset: being found, said again once found
            self.load_thread(self._thread_id)

    def read_live_text_from(self, live_text: LiveText) -> None:
        """Where the streamed text of replies being written is held (module doc)."""
        self._live_text = live_text

    def on_reply_text_changed(self, message_id: int) -> None:
        """A reply's streamed text grew (at most once a frame): repaint its bubble."""
        row = self.row_of(message_id)
        if row is not None and self._rows[row].status in ACTIVE_MESSAGE_STATUSES:
            self._emit_changed(row, _TEXT_ROLES)

    def on_execution_changed(self, change: Change) -> None:
        if not isinstance(change.record, ExecutionRecord):
            return
        self._executions[change.id] = change.record
        if self._thread_id is None or change.thread_id != self._thread_id:
            return
        self._follow_tokens(change.record)
        self._emit_for_execution(
            change.id, (MessageRoles.ExecutionStatus, MessageRoles.Error, MessageRoles.CanRetry)
        )

    def _follow_tokens(self, execution: ExecutionRecord) -> None:
        """A run's tokens changed (it ended): its reply's record carries them now (a new
        record, so the bubble's kept layout is measured again)."""
        tokens = tokens_of(execution)
        if tokens.prompt_tokens is None and tokens.completion_tokens is None:
            return  # not reported (yet): what the page read stays
        for row, m in enumerate(self._rows):
            mine = m.execution_id == execution.id and m.role is Role.ASSISTANT
            if mine and m.run_tokens != tokens:
                self._set_row(row, dataclasses.replace(m, run_tokens=tokens))
                self._emit_changed(row, (MessageRoles.Usage, MessageRoles.Record))

    def _insert(self, record: MessageRecord) -> None:
        """A new message of the open thread: appended when it continues the path shown;
        a new version or an answer that moved messages below it changes the path, so
        the path's newest page is read again."""
        if self.row_of(record.id) is not None:
            self._replace(record, {"content": None, "status": None, "execution_id": None})
            return
        if self._has_newer:
            return  # newer than the window shown; paging newer will bring it
        last = self._rows[-1].id if self._rows else None
        if record.parent_id != last:
            self.load_thread(self._thread_id)
            return
        if record.version is None:  # a new version beside others says so: read its place
            with contextlib.suppress(ServiceError):  # gone, or unreadable: shown as announced
                record = self._services.messages.get(self._user_id, record.id)
        pos = len(self._rows)
        self._insert_rows(pos, [record])
        if record.execution_id is not None:
            self._emit_for_execution(
                record.execution_id, (MessageRoles.CanRetry, MessageRoles.RetryTarget), skip=pos
            )

    def _replace(self, record: MessageRecord, fields: Any) -> None:
        row = self.row_of(record.id)
        if row is None:
            return
        old = self._rows[row]
        if record.version is None:  # a change says nothing of siblings: keep what is known
            record = dataclasses.replace(record, version=old.version)
        if record.run_tokens is None and old.run_tokens is not None:  # nor of run tokens
            record = dataclasses.replace(record, run_tokens=old.run_tokens)
        self._set_row(row, record)
        roles = changed_roles(fields, _FIELD_ROLES)
        if not roles:  # unknown fields: compare what can be seen
            if old.content != record.content:
                roles.update(_FIELD_ROLES["content"])
            if old.status != record.status:
                roles.update(_FIELD_ROLES["status"])
        if old.execution_id != record.execution_id:
            roles.update(_FIELD_ROLES["execution_id"])
        if old.metadata != record.metadata or old.status != record.status:
            roles.update((MessageRoles.Error, MessageRoles.Citations))
        roles.update((MessageRoles.Record, MessageRoles.Usage))
        self._emit_changed(row, roles)
        if old.status != record.status or old.execution_id != record.execution_id:
            for execution_id in {old.execution_id, record.execution_id} - {None}:
                assert execution_id is not None
                self._emit_for_execution(
                    execution_id, (MessageRoles.CanRetry, MessageRoles.RetryTarget), skip=row
                )

    def _remove(self, message_id: int) -> None:
        """A message went, with the branch below it: the path shown moves on to the
        version left beside it (or ends above it), so it is read again."""
        if self.row_of(message_id) is not None:
            self.load_thread(self._thread_id)

    def _emit_for_execution(
        self, execution_id: int, roles: tuple[int, ...], skip: int | None = None
    ) -> None:
        for row, m in enumerate(self._rows):
            if m.execution_id == execution_id and row != skip:
                self._emit_changed(row, roles)

    def _update_activity(self) -> None:
        active = self.active_execution_id()
        if active != self._active_execution:
            self._active_execution = active
            self.activity_changed.emit()
