"""Runs message searches on a worker thread so typing never waits for the database.

One thread, reading through the window's own ``SearchService``: reads begin deferred
(``UnitOfWork.read``), so on SQLite they never take the write lock and the GUI
thread's writes never wait for a search. Requests
are coalesced: while a search runs, newer requests replace older queued ones, so only
the newest query runs next. Results come back on the GUI thread as a queued signal
carrying the request's ticket; the receiver ignores tickets it no longer wants.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from chatdesk.services.errors import ServiceError
from chatdesk.services.search import SearchService

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SearchRequest:
    ticket: int
    query: str
    limit: int
    before_id: int | None


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
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._user_id = user_id
        self._cond = threading.Condition()
        self._request: SearchRequest | None = None
        self._closing = False
        self._thread: threading.Thread | None = None
        self._tickets = 0

    def submit(self, query: str, *, limit: int, before_id: int | None = None) -> int:
        """Queue a search (replacing one still queued); returns its ticket."""
        with self._cond:
            if self._closing:
                return 0
            self._tickets += 1
            self._request = SearchRequest(self._tickets, query, limit, before_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="chatdesk-search", daemon=True
                )
                self._thread.start()
            self._cond.notify()
            return self._tickets

    def close(self) -> None:
        """Stop the thread (after a search in flight ends) and release its connections."""
        with self._cond:
            self._closing = True
            self._request = None
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(JOIN_TIMEOUT_S)

    def _next(self) -> SearchRequest | None:
        with self._cond:
            while self._request is None and not self._closing:
                self._cond.wait()
            request, self._request = self._request, None
            return None if self._closing else request

    def _run(self) -> None:
        while (request := self._next()) is not None:
            self._search(request)

    def _search(self, request: SearchRequest) -> None:
        try:
            hits = self._service.search(
                self._user_id, request.query, limit=request.limit + 1, before_id=request.before_id
            )
        except ServiceError as error:
            self._emit_failed(request.ticket, str(error))
        except Exception:  # a bug: logged, and the search box still gets an answer
            log.exception("message search failed")
            self._emit_failed(request.ticket, "Search is not available right now.")
        else:
            with self._cond:
                if not self._closing:
                    self.finished.emit(
                        request.ticket, hits[: request.limit], len(hits) > request.limit
                    )

    def _emit_failed(self, ticket: int, reason: str) -> None:
        with self._cond:
            if not self._closing:
                self.failed.emit(ticket, reason)
