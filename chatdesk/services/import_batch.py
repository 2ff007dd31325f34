"""Chats of one imported file, written out of sight and then shown all at once.

An import writes its rows in short transactions (the GUI keeps writing meanwhile) under
a hidden user of its own, the *staging* user: no thread list, search or count of the
person sees them. When every chat of the file is written, one tiny transaction renames
that user from ``staging`` to ``publishing``: that is the import's commit point. Then
each chat is moved to the person in a short transaction of its own (a new thread, its
messages and runs moved under it; no foreign key is ever broken). A file of thousands
of chats thus never holds the write lock for long, and still counts as all or nothing:

- stopped, failed or killed before the commit point, its rows are deleted (by itself,
  or by the next import once the process that wrote them is provably gone);
- killed after it, the next import (or the app's start) finishes the move.

The staging user's name says which: ``chatdesk: import <state> <user id> <owner>``,
``owner`` being the writing process (``run_owner``), so a second desktop on the same
database never deletes an import still being written by another one.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chatdesk.services import message_tree as tree
from chatdesk.services.attachments import AttachmentService, Carried
from chatdesk.services.errors import ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.records import ThreadRecord
from chatdesk.services.run_owner import RunOwner
from chatdesk.services.threads import MAX_TITLE_CHARS
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, Message, Thread, ThreadKnowledge, ThreadToolRule, User

log = logging.getLogger(__name__)

PREFIX = "chatdesk: import "
STAGING = "staging"
PUBLISHING = "publishing"
DISCARD_CHUNK = 500
"""Messages deleted per transaction when a stopped import is cleared away."""
ABANDONED_AFTER = timedelta(hours=24)
"""A batch still staging after this long is dead whoever wrote it (another host's too)."""
MAX_OWNER_CHARS = 150
"""Of the staging user's name (200 characters): the rest is the prefix, state and user."""
IMPORTED_MARK = " (imported)"
_ONE_AT_A_TIME = threading.Lock()
"""One batch at a time per process, so clearing old batches never meets a live one."""

Discarded = Callable[[int, int], None]
"""Told (messages deleted so far, of how many) while a stopped batch is cleared."""


class AlreadyImportedError(ValidationError):
    """Every chat of the file is here already (imported before); ``again`` imports it anyway."""

    def __init__(self, titles: list[str]) -> None:
        self.titles = titles
        first = titles[0] if titles else "This chat"
        if len(titles) > 1:
            told = f"“{first}” and {len(titles) - 1:,} more chats of this file are"
        else:
            told = f"“{first}” is"
        super().__init__(f"{told} already here: this file was imported before.")


def known_imports(uow: UnitOfWork, user_id: int, keys: Collection[str]) -> set[str]:
    """Those of ``keys`` that name a chat ``user_id`` has (imported before, not deleted)."""
    wanted = list(keys)
    found: set[str] = set()
    with uow.read(background=True) as session:
        for start in range(0, len(wanted), 500):
            found.update(
                key
                for key in session.scalars(
                    select(Thread.imported_from).where(
                        Thread.user_id == user_id,
                        Thread.imported_from.in_(wanted[start : start + 500]),
                    )
                )
                if key is not None
            )
    return found


def refuse_known(uow: UnitOfWork, user_id: int, titles: Mapping[str, str]) -> None:
    """Raise ``AlreadyImportedError`` when every chat (key -> title) was imported before."""
    known = known_imports(uow, user_id, titles)
    if titles and len(known) == len(titles):
        raise AlreadyImportedError([titles[key] for key in titles])


@dataclasses.dataclass(frozen=True)
class _Name:
    state: str
    user_id: int
    token: str
    """Tells apart the batches of one process (one left by a failed clean-up)."""
    owner: RunOwner | None

    def __str__(self) -> str:
        return f"{PREFIX}{self.state} {self.user_id} {self.token} {self.owner}"

    @staticmethod
    def parse(name: str) -> _Name | None:
        """The batch a staging user's name describes; None for an older chatdesk's
        staging user (``chatdesk: import in progress``), which is always cleared."""
        parts = name.removeprefix(PREFIX).split(" ", 3)
        if len(parts) != 4 or parts[0] not in (STAGING, PUBLISHING) or not parts[1].isdigit():
            return None
        return _Name(parts[0], int(parts[1]), parts[2], RunOwner.parse(parts[3]))


def _short(owner: RunOwner) -> RunOwner:
    """``owner`` fitting the name; a cut host name only makes it "another host"."""
    room = MAX_OWNER_CHARS - (len(str(owner)) - len(owner.host))
    return dataclasses.replace(owner, host=owner.host[: max(room, 1)])


class ImportBatch:
    """Stage chats (``stage_thread`` and the caller's rows), then ``publish`` them.

    Use it as a context manager: leaving it without ``publish`` (an error, a cancel)
    deletes what was staged.
    """

    def __init__(
        self, uow: UnitOfWork, user_id: int, attachments: AttachmentService | None = None
    ) -> None:
        self._uow = uow
        self._attachments = attachments
        self.attachment_ids: dict[str, int] = {}
        """The attached files of the batch (digest -> id), held by its staging user."""
        self.user_id = user_id
        self._name = _Name(STAGING, user_id, secrets.token_hex(4), _short(uow.owner))
        self.staging_id = 0
        self._threads: list[int] = []
        self._published = False
        self.on_discard: Discarded | None = None

    def __enter__(self) -> ImportBatch:
        _ONE_AT_A_TIME.acquire()
        try:
            _recover(self._uow)
            with self._uow.write(background=True) as (session, _changes):
                user = User(name=str(self._name))
                session.add(user)
                session.flush()
                self.staging_id = user.id
        except BaseException:
            _ONE_AT_A_TIME.release()
            raise
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if not self._published:
                try:
                    _discard(self._uow, self.staging_id, self.on_discard)
                except Exception:  # the next import clears what is left; keep the first error
                    log.exception("could not delete the rows of a stopped import")
                self._free_attachments()
        finally:
            _ONE_AT_A_TIME.release()

    def restore_attachment(
        self, carried: Carried, chunks: Callable[[], Iterator[bytes]], label: str
    ) -> int:
        """The attachment ``carried`` declares, found or copied in from ``chunks()`` and
        held until the batch is published (dropped with it otherwise); its id."""
        assert self._attachments is not None, "an ImportBatch without attachments"
        found = self.attachment_ids.get(carried.sha256)
        if found is None:
            found = self._attachments.restore(self.staging_id, carried, chunks, label)
            self.attachment_ids[carried.sha256] = found
        return found

    def _free_attachments(self) -> None:
        """The batch's attachments nothing else keeps go (rows now, files after)."""
        if self._attachments is None or not self.attachment_ids:
            return
        try:
            self._attachments.free_held(self.staging_id, self.attachment_ids.values())
        except Exception:  # the start-up sweep frees them
            log.exception("could not free the attachments of a stopped import")

    @property
    def staged_threads(self) -> int:
        return len(self._threads)

    def stage_thread(self, values: dict[str, Any]) -> int:
        """A hidden thread for one chat (``values``: its columns); returns its id."""
        with self._uow.write(background=True) as (session, _changes):
            return self.add_thread(session, values)

    def add_thread(self, session: Session, values: dict[str, Any]) -> int:
        """``stage_thread`` inside the caller's write transaction."""
        row = Thread(user_id=self.staging_id, **values)
        session.add(row)
        session.flush()
        self._threads.append(row.id)
        return row.id

    def set_leaf(self, session: Session, thread_id: int, leaf: int | None) -> None:
        """The message a staged chat's path ends at (None: follow its chosen versions),
        inside the caller's write transaction."""
        session.execute(
            update(Thread)
            .where(Thread.id == thread_id, Thread.user_id == self.staging_id)
            .values(current_leaf_id=leaf, updated_at=Thread.updated_at),
            execution_options={"synchronize_session": False},
        )

    def publish(self, on_moved: Callable[[int, int], None] | None = None) -> list[ThreadRecord]:
        """Commit the batch, then move its chats to the person, one transaction each.

        ``on_moved(done, total)`` hears each chat moved. Once this has begun the batch
        is no longer discarded: a crash leaves the rest for ``recover`` to move.
        """
        published = dataclasses.replace(self._name, state=PUBLISHING)
        with self._uow.write(background=True) as (session, _changes):
            session.execute(
                update(User).where(User.id == self.staging_id).values(name=str(published))
            )
        self._published = True
        return _move_all(self._uow, self.staging_id, self.user_id, on_moved)


def left_behind(uow: UnitOfWork) -> bool:
    """Whether an earlier import left a batch (one quick read, for start-up)."""
    with uow.read() as session:
        found = session.scalar(select(User.id).where(User.name.startswith(PREFIX)).limit(1))
    return found is not None


def recover(uow: UnitOfWork) -> int:
    """Finish or clear what earlier imports left; the number of chats it published.

    A batch past its commit point is moved to its person; one still staging is deleted
    when the process writing it is gone (or it is older than ``ABANDONED_AFTER``).
    """
    with _ONE_AT_A_TIME:
        return _recover(uow)


def _recover(uow: UnitOfWork) -> int:
    with uow.read(background=True) as session:
        users = session.execute(
            select(User.id, User.name, User.created_at).where(User.name.startswith(PREFIX))
        ).all()
    published = 0
    now = utcnow()
    here = _short(uow.owner)
    for staging_id, name, created_at in users:
        batch = _Name.parse(name)
        if batch is not None and batch.state == PUBLISHING:
            published += len(_move_all(uow, staging_id, batch.user_id, None))
            continue
        owner = batch.owner if batch is not None else None
        # this process runs one batch at a time, under the lock held now: its own
        # leftovers are dead; another process's are while it is provably gone
        alive = owner is not None and owner != here and not owner.is_gone()
        if alive and now - created_at < ABANDONED_AFTER:
            continue
        _discard(uow, staging_id, None)
    return published


MOVE_MESSAGES = 5_000
MOVE_CHATS = 20
"""Messages and chats moved per transaction when a batch is shown: small chats go
together (one wait for the GUI's turn instead of one each), a big one alone, and the
thread list takes in at most ``MOVE_CHATS`` new rows at a time."""


def _move_all(
    uow: UnitOfWork, staging_id: int, user_id: int, on_moved: Callable[[int, int], None] | None
) -> list[ThreadRecord]:
    with uow.read(background=True) as session:
        sizes = dict(
            session.execute(
                select(Message.thread_id, func.count())
                .where(Message.user_id == staging_id)
                .group_by(Message.thread_id)
            ).all()
        )
        threads = session.scalars(
            select(Thread.id).where(Thread.user_id == staging_id).order_by(Thread.id)
        ).all()
    records: list[ThreadRecord] = []
    group: list[int] = []
    size = 0
    for n, staged in enumerate(threads):
        group.append(staged)
        size += sizes.get(staged, 0)
        if size >= MOVE_MESSAGES or len(group) >= MOVE_CHATS or n == len(threads) - 1:
            with uow.write(background=True) as (session, changes):
                for one in group:
                    record = _move(session, staging_id, one, user_id)
                    records.append(record)
                    changes.append(
                        Change(
                            ChangeKind.CREATED,
                            Entity.THREAD,
                            record.id,
                            record.id,
                            user_id,
                            {},
                            record,
                        )
                    )
            group, size = [], 0
            if on_moved is not None:
                on_moved(len(records), len(threads))
    with uow.write(background=True) as (session, _changes):
        session.execute(delete(User).where(User.id == staging_id))
    return records


def _move(session: Session, staging_id: int, staged: int, user_id: int) -> ThreadRecord:
    """Move one staged chat to ``user_id`` (a new thread, its rows moved under it)."""
    plain = {"synchronize_session": False}
    source = session.get_one(Thread, staged)
    thread = Thread(
        user_id=user_id,
        title=_imported_title(session, user_id, source.title),
        crew=source.crew,
        model=source.model,
        system_prompt=source.system_prompt,
        pinned=source.pinned,
        draft=source.draft,
        model_settings=source.model_settings,
        imported_from=source.imported_from,
        created_at=source.created_at,
        updated_at=source.updated_at,
    )
    session.add(thread)
    session.flush()
    session.execute(
        update(Message)
        .where(Message.thread_id == staged)
        .values(thread_id=thread.id, user_id=user_id, updated_at=Message.updated_at),
        execution_options=plain,  # a move, not an edit: updated_at stays as imported
    )
    for table in (Execution, ThreadToolRule, ThreadKnowledge):
        session.execute(
            update(table).where(table.thread_id == staged).values(thread_id=thread.id),
            execution_options=plain,
        )
    leaf = source.current_leaf_id
    session.execute(
        delete(Thread).where(Thread.id == staged, Thread.user_id == staging_id),
        execution_options=plain,
    )
    thread.current_leaf_id = leaf if leaf is not None else tree.current_leaf(session, thread)
    session.flush()
    return ThreadRecord.of(thread)


def _discard(uow: UnitOfWork, staging_id: int, told: Discarded | None) -> None:
    """Delete a staging user's chats, a chunk of messages per transaction, then it."""
    with uow.read(background=True) as session:
        threads = session.scalars(select(Thread.id).where(Thread.user_id == staging_id)).all()
        total = session.scalar(
            select(func.count()).select_from(Message).where(Message.user_id == staging_id)
        )
    done = 0
    for thread_id in threads:
        while True:
            if told is not None:
                told(done, total or 0)
            with uow.write(background=True) as (session, _changes):
                deleted = _delete_chunk(session, staging_id, thread_id)
            done += deleted
            if not deleted:
                break
    with uow.write(background=True) as (session, _changes):
        session.execute(delete(User).where(User.id == staging_id))


def _delete_chunk(session: Session, staging_id: int, thread_id: int) -> int:
    """Up to ``DISCARD_CHUNK`` of the thread's newest messages (children before their
    parents), or, once it is empty, the thread itself; the messages deleted."""
    ids = session.scalars(
        select(Message.id)
        .where(Message.thread_id == thread_id)
        .order_by(Message.id.desc())
        .limit(DISCARD_CHUNK)
    ).all()
    plain = {"synchronize_session": False}
    if ids:  # the thread's current_leaf_id is set null by its foreign key
        session.execute(delete(Message).where(Message.id.in_(ids)), execution_options=plain)
    else:  # its executions and rules go with it
        session.execute(
            delete(Thread).where(Thread.id == thread_id, Thread.user_id == staging_id),
            execution_options=plain,
        )
    return len(ids)


def _imported_title(session: Session, user_id: int, title: str) -> str:
    """``title``, marked "(imported)" when the person already has a chat of that name
    (importing a chat back beside its original would give two alike)."""
    taken = session.scalar(
        select(Thread.id).where(Thread.user_id == user_id, Thread.title == title).limit(1)
    )
    if taken is None or title.endswith(IMPORTED_MARK):
        return title
    return title[: MAX_TITLE_CHARS - len(IMPORTED_MARK)].rstrip() + IMPORTED_MARK
