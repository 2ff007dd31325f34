"""The documents attached to a run's question, as the model is told them.

Before a run is handed to the worker, the PDFs, Word documents and text files of its
trigger message are read (from ``services.document_texts``: the attach flow usually
extracted them already) and turned into one context with
``services.documents.context.build_context``: whole when they fit
``DOCUMENTS_BUDGET_CHARS``, else the chunks that best answer the question. This runs
on a thread of its own (``off_the_loop``): a 50 MB PDF whose text is not cached yet
takes seconds.

What it produces: the text for ``RunRequest.documents``; a ``documents_used`` step
(the citations' ``as_json`` with their attachment ids) for Run details; the citations
and, for a document that could not be read (its stored copy gone, damaged), a note,
both kept on the reply (``services.reply_notes``). A document that cannot be read
never stops the run: the model answers from the rest, and the reply says what it did
not see.

The question's own documents are read, and the chat's knowledge (documents kept for
every reply: ``services.knowledge``); those of earlier messages are not sent again
(their passages were for that question; the history carries what was said about
them). A document read here for the first time (attached by an import, or its
kept text swept) is extracted on this thread without the window's ``gui_first``
settings (``ui/tasks.py`` is a layer above): the window then answers a little later
while it is read, as it does beside any busy thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from chatdesk.engine.protocol import StepName
from chatdesk.services import Services
from chatdesk.services.documents.context import Citation, build_context
from chatdesk.services.documents.model import Document, DocumentError
from chatdesk.services.errors import ServiceError
from chatdesk.services.executions import LogEntry
from chatdesk.services.leases import LeaseLostError
from chatdesk.services.records import AttachmentRecord, MessageRecord
from chatdesk.vocabulary import AttachmentKind

log = logging.getLogger(__name__)
T = TypeVar("T")

DOCUMENTS_BUDGET_CHARS = 16_000
"""About 4,000 tokens of passages, beside the history's 12,000 characters
(``RunRequest.history_budget_chars``, about 3,000 tokens): both with the question and
the crew's own text fit an 8,000-token local model, the smallest context chatdesk
plans for, with room left for the answer. A document of a few pages goes in whole;
a longer one is searched, and eight 1,500-character chunks fill the budget."""
DOCUMENT_KINDS = frozenset({AttachmentKind.PDF, AttachmentKind.DOCX, AttachmentKind.TEXT})


@dataclass(frozen=True)
class RunDocuments:
    """What a run's documents give: the prompt's text, the step, the reply's extras."""

    text: str = ""
    step: LogEntry | None = None
    citations: tuple[dict[str, object], ...] = ()
    notes: tuple[str, ...] = field(default=())


def read_documents(
    services: Services,
    user_id: int,
    trigger: MessageRecord,
    budget_chars: int = DOCUMENTS_BUDGET_CHARS,
    should_stop: Callable[[], bool] | None = None,
) -> RunDocuments:
    """The context of ``trigger``'s documents (blocking: call it off the GUI thread);
    ``should_stop`` is asked between pages (a run stopped while a PDF is read)."""
    files = [
        file
        for file in services.attachments.for_message(user_id, trigger.id)
        if file.kind in DOCUMENT_KINDS
    ]
    asked = {file.id for file in files}
    files += [  # the chat's knowledge: every reply of the chat uses it
        file
        for file in services.knowledge.list(user_id, trigger.thread_id)
        if file.kind in DOCUMENT_KINDS and file.id not in asked
    ]
    if not files:
        return RunDocuments()
    documents: list[Document] = []
    read: list[AttachmentRecord] = []
    notes: list[str] = []
    for file in files:
        try:
            path = services.attachments.path_of(user_id, file.id)
            documents.append(
                services.document_texts.document(
                    file.sha256, path, file.kind.value, file.file_name, should_stop=should_stop
                )
            )
            read.append(file)
        except DocumentError as error:
            notes.append(f"The model did not see {file.file_name}: {error.message}")
        except ServiceError as error:
            notes.append(f"The model did not see {file.file_name}: {error}")
    context = build_context(documents, trigger.content, budget_chars)
    detail: dict[str, object] = {
        "citations": [_step_citation(c, read) for c in context.citations],
        "attachments": [file.id for file in read],
        "chars": len(context.text),
        "budget_chars": budget_chars,
    }
    if notes:
        detail["not_read"] = notes
    return RunDocuments(
        text=context.text,
        step=LogEntry(StepName.DOCUMENTS_USED.value, None, None, detail),
        citations=tuple(_reply_citation(c, read) for c in context.citations),
        notes=tuple(notes),
    )


async def documents_for_run(
    services: Services, user_id: int, trigger: MessageRecord, reply_id: int
) -> RunDocuments:
    """``read_documents`` off the GUI thread; its citations and notes kept on the reply.

    A failure here is a bug or a database that does not answer: the run goes on without
    documents and the reply says so, rather than failing the person's question.
    """
    stop = threading.Event()
    try:
        found = await off_the_loop(
            partial(read_documents, services, user_id, trigger, should_stop=stop.is_set)
        )
    except asyncio.CancelledError:  # Stop: the thread stops at its next page
        stop.set()
        raise
    except Exception as error:
        log.exception("could not read the documents of message %s", trigger.id)
        found = RunDocuments(notes=(f"The attached documents could not be read: {error}",))
    if found.citations or found.notes:
        try:
            services.reply_notes.add(
                user_id, reply_id, notes=found.notes, citations=list(found.citations)
            )
        except LeaseLostError:
            raise  # another client has this run: the coordinator stops here
        except ServiceError:  # a busy disk: the answer matters more than its footnotes
            log.warning("could not keep the citations of reply %s", reply_id, exc_info=True)
    return found


async def off_the_loop(work: Callable[[], T]) -> T:
    """``work()`` on a daemon thread of its own, awaited on the loop.

    Not ``asyncio.to_thread``: on the qasync loop its default executor is a pool of
    QThreads, and a QThread still alive when the app exits aborts the process (a
    SIGTERM mid-reply then ended chatdesk with SIGABRT instead of exit code 0). A
    daemon thread never holds the exit; a result that comes after a cancel is dropped.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            outcome: tuple[T | None, BaseException | None] = (work(), None)
        except BaseException as error:
            outcome = (None, error)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="chatdesk-run-documents", daemon=True).start()
    return await future


def _step_citation(citation: Citation, files: list[AttachmentRecord]) -> dict[str, object]:
    return {**citation.as_json(), "attachment": files[citation.document].id}


def _reply_citation(citation: Citation, files: list[AttachmentRecord]) -> dict[str, object]:
    """The short form the bubble links: which file, where."""
    return {
        "attachment": files[citation.document].id,
        "name": citation.name,
        "label": citation.label,
        "unit": citation.unit.value,
        "first": citation.first,
        "last": citation.last,
    }
