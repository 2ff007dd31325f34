"""What a reply says besides its text: notes under it and the places it was shown.

A run that could not give the model everything the person attached says so on the
reply (``notes``, drawn under the bubble by ``ui/chat/message_notes.py``), and a run
that told the model about documents keeps which places (``citations``), so the bubble
can link them without reading the run's steps. Written while the run holds its
lease; ``executions.finish`` keeps what is here (it merges into the metadata).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chatdesk.redact import redact
from chatdesk.services.errors import NotFoundError, PermissionDeniedError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.leases import hold
from chatdesk.services.records import MessageRecord
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.models import Message

NOTES_KEY = "notes"
CITATIONS_KEY = "citations"
MAX_NOTES = 20
MAX_CITATIONS = 20


class ReplyNotes:
    """Notes and citations on a reply being written."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        user_id: int,
        reply_id: int,
        *,
        notes: Sequence[str] = (),
        citations: Sequence[Mapping[str, object]] = (),
    ) -> MessageRecord:
        """Append ``notes`` and set ``citations`` (when given) on the reply; the change
        is published so the bubble shows them."""
        with self._uow.write() as (session, changes):
            reply = session.get(Message, reply_id)
            if reply is None:
                raise NotFoundError(f"Message {reply_id} does not exist.")
            if reply.user_id != user_id:
                raise PermissionDeniedError(f"Message {reply_id} belongs to another user.")
            if reply.execution_id is not None:
                hold(session, reply.execution_id, self._uow.owner)
            meta = dict(reply.meta or {})
            if notes:
                kept = [note for note in meta.get(NOTES_KEY, []) if isinstance(note, str)]
                meta[NOTES_KEY] = [*kept, *(redact(note) for note in notes)][:MAX_NOTES]
            if citations:
                meta[CITATIONS_KEY] = [dict(c) for c in citations[:MAX_CITATIONS]]
            reply.meta = meta
            session.flush()
            record = MessageRecord.of(reply)
            changes.append(
                Change(
                    ChangeKind.UPDATED,
                    Entity.MESSAGE,
                    record.id,
                    record.thread_id,
                    record.user_id,
                    {"metadata": record.metadata},
                    record,
                )
            )
        return record
