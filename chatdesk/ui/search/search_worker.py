"""Runs message searches off the GUI thread (``chatdesk.ui.tasks``), so typing never waits
for the database.

Each search is a task reading through the window's own ``SearchService``: reads begin
deferred (``UnitOfWork.read``), so on SQLite they never take the write lock and the GUI
thread's writes never wait for a search. Answers come back on the GUI thread carrying
the request's ticket; the receiver ignores tickets it no longer wants. (Typing is
debounced first, and a search takes milliseconds, so searches do not pile up.)
"""

from __future__ import annotations

import logging
from functools import partial

from PySide6.QtCore import QObject, Signal

from chatdesk.services.errors import ServiceError
from chatdesk.services.search import SearchHit, SearchService
from chatdesk.ui.tasks import Tasks

log = logging.getLogger(__name__)

UNAVAILABLE = "Search is not available right now."


class SearchRunner(QObject):
    """Searches ``user_id``'s messages off the GUI thread.

    Signals:
        finished: a request's hits (int ticket, list[SearchHit], bool has_more).
        failed: a request could not run (int ticket, str reason for a person).
    """

    finished = Signal(int, object, bool)
    failed = Signal(int, str)

    def __init__(
        self,
        service: SearchService,
        user_id: int,
        tasks: Tasks,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._user_id = user_id
        self._tasks = tasks
        self._tickets = 0

    def submit(self, query: str, *, limit: int, before_id: int | None = None) -> int:
        """Start a search; returns its ticket."""
        self._tickets += 1
        ticket = self._tickets
        search = partial(
            self._service.search, self._user_id, query, limit=limit + 1, before_id=before_id
        )
        task = self._tasks.start("chatdesk-search", lambda _control: search())
        task.succeeded.connect(partial(self._on_hits, ticket, limit))
        task.failed.connect(partial(self._on_error, ticket))
        return ticket

    def _on_hits(self, ticket: int, limit: int, hits: list[SearchHit]) -> None:
        self.finished.emit(ticket, hits[:limit], len(hits) > limit)

    def _on_error(self, ticket: int, error: BaseException) -> None:
        if isinstance(error, ServiceError):
            self.failed.emit(ticket, str(error))
            return
        log.error("message search failed", exc_info=error)  # a bug: the box still answers
        self.failed.emit(ticket, UNAVAILABLE)
