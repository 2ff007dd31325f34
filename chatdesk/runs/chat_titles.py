"""A chat's title written by the model after its first reply.

A chat starts titled by the first line of its first message; that is often a poor
title ("hi", "can you help me with something"). When the first reply of a chat
completes, and the chat still has the title its first message gave it, the worker is
asked for a short title (``engine/titles.py``: one small call beside the runs, off
the reply's path). The title is written only if the chat still has that first-line
title then (the person may have renamed it meanwhile: theirs wins). Skipped when no
model is set, when Settings says the model does not write titles (one request more per
chat costs money on some providers), and for the scripted model (its replies are a
test's script). A failed title call changes nothing and tells nobody: the first-line
title stays.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject

from chatdesk.engine.protocol import Event, TitleEvent, TitleRequest
from chatdesk.runs.model_choice import ModelResolver
from chatdesk.runs.model_settings import read_model_settings
from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.threads import DEFAULT_TITLE, title_from_text
from chatdesk.vocabulary import ExecutionStatus, Role

log = logging.getLogger(__name__)


class TitleTransport(Protocol):
    """What asking for a title needs of the worker client."""

    def ask_title(self, request: TitleRequest) -> bool: ...


@dataclass(frozen=True)
class _Asked:
    user_id: int
    thread_id: int
    was: str  # the first-line title the chat had when asked


class ChatTitles(QObject):
    """Asks for a chat's title after its first reply and writes it (module doc)."""

    def __init__(
        self,
        services: Services,
        user_id: int,
        worker: TitleTransport,
        resolve_model: ModelResolver,
        parent: QObject | None = None,
        *,
        wanted: Callable[[], bool] = lambda: bool(read_model_settings()["titles"]),
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._user_id = user_id
        self._worker = worker
        self._resolve_model = resolve_model
        self._wanted = wanted
        self._asked: dict[str, _Asked] = {}

    def on_run_finished(self, execution_id: int, status: str) -> None:
        """Slot for ``Coordinator.run_finished``."""
        if status != ExecutionStatus.COMPLETED.value:
            return
        try:
            self._ask(execution_id)
        except ServiceError as error:  # deleted meanwhile, a busy database: no title
            log.info("no title for run %s: %s", execution_id, error)

    def _ask(self, execution_id: int) -> None:
        services, user = self._services, self._user_id
        execution = services.executions.get(user, execution_id)
        if not execution.model or execution.model.startswith("scripted"):
            return  # asking the resolver would take the next scripted reply
        if not self._wanted():
            return
        thread = services.threads.get(user, execution.thread_id)
        page = services.messages.list(user, thread.id, limit=3)
        if len(page.messages) != 2:
            return  # not the chat's first exchange
        question, answer = page.messages
        if (
            question.role is not Role.USER
            or answer.role is not Role.ASSISTANT
            or answer.execution_id != execution_id
            or not answer.content.strip()
        ):
            return
        first_line = title_from_text(
            question.content or "\n".join(file.file_name for file in question.attachments)
        )
        if thread.title != first_line or thread.title == DEFAULT_TITLE:
            return  # renamed by the person, or imported with a title of its own
        model = self._resolve_model(thread)
        if model is None or model.is_scripted:
            return
        request_id = uuid.uuid4().hex
        asked = self._worker.ask_title(
            TitleRequest(
                request_id=request_id,
                model=model,
                question=question.content,
                answer=answer.content,
            )
        )
        if asked:
            self._asked[request_id] = _Asked(user, thread.id, thread.title)

    def on_worker_event(self, event: Event) -> None:
        """Slot for the worker client's events: the titles among them."""
        if not isinstance(event, TitleEvent):
            return
        asked = self._asked.pop(event.request_id, None)
        if asked is None:
            return
        if not event.title:
            log.info("no title from the model: %s", event.error or "it gave none")
            return
        try:
            self._services.threads.retitle(asked.user_id, asked.thread_id, asked.was, event.title)
        except ServiceError as error:
            log.info("the model's title was not written: %s", error)
