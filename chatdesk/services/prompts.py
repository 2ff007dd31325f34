"""Use cases on a person's saved prompts: create, rename, edit, delete, list, import.

A prompt is a name and a text (with optional ``{{variables}}``, ``prompt_text.py``).
Names are one line of visible text, unique per person ignoring case (two prompts
"Summary" and "summary" would be told apart by nobody in the ``/`` list). Each call is
one transaction and publishes its change on the bus (``Entity.PROMPT``, thread id 0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatdesk.services.errors import NotFoundError, ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.prompt_text import MAX_VARIABLES, variables
from chatdesk.services.threads import sanitise_title
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.models import Prompt

MAX_NAME_CHARS = 100
MAX_TEXT_CHARS = 20_000
MAX_PROMPTS = 2_000
"""Per person: the ``/`` list stays a list, and an import cannot fill the disk."""

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class PromptRecord:
    """A saved prompt as the window sees it."""

    id: int
    user_id: int
    name: str
    text: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Prompt) -> PromptRecord:
        return cls(row.id, row.user_id, row.name, row.text, row.created_at, row.updated_at)


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did with each prompt of the file, by name."""

    added: list[str]
    skipped: list[str]
    """Not added: a prompt of that name exists already (or came earlier in the file)."""
    refused: list[tuple[str, str]]
    """Not added, with the reason (empty or too long text, too many variables...)."""


def clean_name(name: str) -> str:
    """The name rule of every path that sets one (create, rename, import)."""
    cleaned = sanitise_title(name)
    if not cleaned:
        raise ValidationError("A prompt needs a name.")
    if len(cleaned) > MAX_NAME_CHARS:
        raise ValidationError(f"A prompt name can have at most {MAX_NAME_CHARS} characters.")
    return cleaned


def clean_text(text: str) -> str:
    """The text rule: not blank, bounded, storable, at most ``MAX_VARIABLES`` variables."""
    text = _SURROGATE.sub("\ufffd", text).replace("\x00", "")
    if not text.strip():
        raise ValidationError("A prompt needs some text.")
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(f"A prompt's text can have at most {MAX_TEXT_CHARS:,} characters.")
    if len(variables(text)) > MAX_VARIABLES:
        raise ValidationError(f"A prompt can have at most {MAX_VARIABLES} variables.")
    return text


def _key(name: str) -> str:
    return name.casefold()


class PromptService:
    """Saved prompts of one person at a time; every call names the acting user."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def list(self, user_id: int) -> list[PromptRecord]:
        """The person's prompts by name (case ignored)."""
        with self._uow.read() as session:
            rows = session.scalars(select(Prompt).where(Prompt.user_id == user_id)).all()
            records = [PromptRecord.of(row) for row in rows]
        return sorted(records, key=lambda r: (_key(r.name), r.name))

    def get(self, user_id: int, prompt_id: int) -> PromptRecord:
        with self._uow.read() as session:
            return PromptRecord.of(_owned(session, user_id, prompt_id))

    def create(self, user_id: int, name: str, text: str) -> PromptRecord:
        name, text = clean_name(name), clean_text(text)
        with self._uow.write() as (session, changes):
            taken = _names(session, user_id)
            _check_free(taken, name)
            if len(taken) >= MAX_PROMPTS:
                raise ValidationError(f"You can keep at most {MAX_PROMPTS:,} prompts.")
            row = Prompt(user_id=user_id, name=name, text=text)
            session.add(row)
            _flush(session, _taken_elsewhere(name))
            record = PromptRecord.of(row)
            changes.append(_change(ChangeKind.CREATED, record, {"name": name}))
        return record

    def rename(self, user_id: int, prompt_id: int, name: str) -> PromptRecord:
        return self.update(user_id, prompt_id, name=name)

    def edit(self, user_id: int, prompt_id: int, text: str) -> PromptRecord:
        return self.update(user_id, prompt_id, text=text)

    def update(
        self, user_id: int, prompt_id: int, *, name: str | None = None, text: str | None = None
    ) -> PromptRecord:
        """Change the name and/or text; an unchanged prompt publishes nothing."""
        fields: dict[str, object] = {}
        if name is not None:
            fields["name"] = clean_name(name)
        if text is not None:
            fields["text"] = clean_text(text)
        with self._uow.write() as (session, changes):
            row = _owned(session, user_id, prompt_id)
            fields = {k: v for k, v in fields.items() if getattr(row, k) != v}
            new_name = fields.get("name")
            if isinstance(new_name, str) and _key(new_name) != _key(row.name):
                _check_free(_names(session, user_id), new_name)
            for key, value in fields.items():
                setattr(row, key, value)
            _flush(session, _taken_elsewhere(row.name))
            record = PromptRecord.of(row)
            if fields:
                changes.append(_change(ChangeKind.UPDATED, record, fields))
        return record

    def delete(self, user_id: int, prompt_id: int) -> None:
        with self._uow.write() as (session, changes):
            row = _owned(session, user_id, prompt_id)
            session.delete(row)
            session.flush()
            changes.append(Change(ChangeKind.DELETED, Entity.PROMPT, prompt_id, 0, user_id))

    def import_prompts(self, user_id: int, prompts: Iterable[tuple[str, str]]) -> ImportOutcome:
        """Add the (name, text) pairs in ONE transaction: all that can be added, or none.

        A name already taken (ignoring case, by a stored prompt or one earlier in the
        list) is skipped; a prompt breaking a rule is refused with the reason.
        """
        added: list[str] = []
        skipped: list[str] = []
        refused: list[tuple[str, str]] = []
        with self._uow.write() as (session, changes):
            taken = _names(session, user_id)
            rows: list[Prompt] = []
            for raw_name, raw_text in prompts:
                try:
                    name, text = clean_name(raw_name), clean_text(raw_text)
                except ValidationError as error:
                    refused.append((sanitise_title(raw_name)[:MAX_NAME_CHARS], str(error)))
                    continue
                if _key(name) in taken:
                    skipped.append(name)
                    continue
                if len(taken) >= MAX_PROMPTS:
                    refused.append((name, f"You can keep at most {MAX_PROMPTS:,} prompts."))
                    continue
                taken[_key(name)] = name
                rows.append(Prompt(user_id=user_id, name=name, text=text))
                added.append(name)
            session.add_all(rows)
            _flush(session, "Prompts of these names were just added elsewhere; import again.")
            for row in rows:
                changes.append(
                    _change(ChangeKind.CREATED, PromptRecord.of(row), {"name": row.name})
                )
        return ImportOutcome(added, skipped, refused)


def _owned(session: Session, user_id: int, prompt_id: int) -> Prompt:
    row = session.get(Prompt, prompt_id)
    if row is None or row.user_id != user_id:
        raise NotFoundError("That prompt no longer exists.")
    return row


def _flush(session: Session, clash: str) -> None:
    """Flush; a name another client took meanwhile (the unique key) is said as ``clash``,
    not a crash."""
    try:
        session.flush()
    except IntegrityError:
        raise ValidationError(clash) from None


def _taken_elsewhere(name: str) -> str:
    return f"A prompt named “{name}” was just added elsewhere; choose another name."


def _names(session: Session, user_id: int) -> dict[str, str]:
    names = session.scalars(select(Prompt.name).where(Prompt.user_id == user_id)).all()
    return {_key(name): name for name in names}


def _check_free(taken: dict[str, str], name: str) -> None:
    if _key(name) in taken:
        raise ValidationError(f"A prompt named “{taken[_key(name)]}” exists already.")


def _change(kind: ChangeKind, record: PromptRecord, fields: dict[str, object]) -> Change:
    return Change(kind, Entity.PROMPT, record.id, 0, record.user_id, fields, record)
