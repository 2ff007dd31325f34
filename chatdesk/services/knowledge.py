"""A chat's knowledge: documents attached to the chat once, used for every reply of it.

A person adds a document to a chat (``add``: a file added through
``AttachmentService.add``, so stored once by its content and checked as any attachment),
removes it (``remove``: its file goes when nothing else keeps it) and sees the list
(``list``). Only documents (PDF, Word, text): an image is something to show the model
with a question, not to search. Each change is published as the thread's ``knowledge``
field, so the chat header follows it on every window of the person.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from chatdesk.services import attachment_links as links
from chatdesk.services.attachments import AttachmentService
from chatdesk.services.errors import NotFoundError, ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.records import AttachmentRecord, ThreadRecord
from chatdesk.services.unit_of_work import UnitOfWork, owned_thread
from chatdesk.store.models import Attachment, ThreadKnowledge
from chatdesk.vocabulary import AttachmentKind

MAX_KNOWLEDGE_FILES = 20
"""Documents a chat keeps: each is read for every reply (its passages searched)."""
KNOWLEDGE = "knowledge"
"""The thread field a change of a chat's knowledge is published as (its file count)."""


class KnowledgeService:
    """The documents each chat of a person keeps (module doc)."""

    def __init__(self, uow: UnitOfWork, attachments: AttachmentService) -> None:
        self._uow = uow
        self._attachments = attachments

    def list(self, user_id: int, thread_id: int) -> tuple[AttachmentRecord, ...]:
        """The chat's documents, in the order they were added."""
        with self._uow.read() as session:
            owned_thread(session, user_id, thread_id)
            return _listed(session, thread_id)

    def add(
        self, user_id: int, thread_id: int, files: Sequence[AttachmentRecord]
    ) -> tuple[AttachmentRecord, ...]:
        """Keep ``files`` (added by this person) as the chat's knowledge; the chat's
        documents after. A document it keeps already is not added twice."""
        if any(file.kind is AttachmentKind.IMAGE for file in files):
            raise ValidationError(
                "A chat keeps documents (PDF, Word, text) as knowledge; attach an image "
                "to a message instead."
            )
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            kept = {row.id for row in _listed(session, thread_id)}
            new = [file for file in files if file.id not in kept]
            if len(kept) + len(new) > MAX_KNOWLEDGE_FILES:
                raise ValidationError(
                    f"A chat keeps at most {MAX_KNOWLEDGE_FILES} documents as knowledge; "
                    f"this one has {len(kept)}."
                )
            rows = links.usable(session, user_id, [file.id for file in new])
            if new:
                session.execute(
                    insert(ThreadKnowledge),
                    [
                        {
                            "thread_id": thread.id,
                            "attachment_id": file.id,
                            "file_name": links.clean_file_name(file.file_name),
                        }
                        for file in new
                    ],
                )
                links.unhold(session, user_id, rows)
            listed = _listed(session, thread_id)
            if new:
                changes.append(_changed(session, user_id, thread_id, len(listed)))
        return listed

    def remove(self, user_id: int, thread_id: int, attachment_id: int) -> None:
        """The chat no longer keeps this document; its file goes if nothing else keeps
        it."""
        with self._uow.write() as (session, changes):
            owned_thread(session, user_id, thread_id)
            gone = session.execute(
                delete(ThreadKnowledge).where(
                    ThreadKnowledge.thread_id == thread_id,
                    ThreadKnowledge.attachment_id == attachment_id,
                ),
                execution_options={"synchronize_session": False},
            )
            if not getattr(gone, "rowcount", 0):
                raise NotFoundError("That document is not part of this chat's knowledge.")
            self._attachments.free_unused(session, [attachment_id])
            count = session.scalar(
                select(func.count()).where(ThreadKnowledge.thread_id == thread_id)
            )
            changes.append(_changed(session, user_id, thread_id, int(count or 0)))


def _listed(session: Session, thread_id: int) -> tuple[AttachmentRecord, ...]:
    rows = session.execute(
        select(ThreadKnowledge.file_name, Attachment)
        .join(Attachment, Attachment.id == ThreadKnowledge.attachment_id)
        .where(ThreadKnowledge.thread_id == thread_id)
        .order_by(ThreadKnowledge.added_at, ThreadKnowledge.attachment_id)
    )
    return tuple(AttachmentRecord.of(attachment, name) for name, attachment in rows)


def _changed(session: Session, user_id: int, thread_id: int, count: int) -> Change:
    """The thread's change (its record too: the chat list follows records)."""
    thread = owned_thread(session, user_id, thread_id)
    return Change(
        ChangeKind.UPDATED,
        Entity.THREAD,
        thread_id,
        thread_id,
        user_id,
        {KNOWLEDGE: count},
        ThreadRecord.of(thread),
    )
