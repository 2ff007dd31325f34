"""Use cases on messages: send (with its execution), read in pages, edit, status, delete.

A thread is a tree (``chatdesk.services.message_tree``): pages follow the path the
person sees, a new message follows the current leaf, and Regenerate, Retry and editing
a message make versions (siblings) instead of rewriting history.

Size limits (documented in the README): a message a person writes holds at most
``MAX_USER_CONTENT_CHARS`` characters after trimming; a reply or system text at most
``MAX_CONTENT_CHARS``. Replies are kept exactly as the model sent them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from chatdesk.services import attachment_links as links
from chatdesk.services import branch_undo as undo
from chatdesk.services import message_tree as tree
from chatdesk.services.errors import IllegalTransitionError, ValidationError
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.leases import claim
from chatdesk.services.records import AttachmentRecord, ExecutionRecord, MessageRecord
from chatdesk.services.run_owner import RunOwner
from chatdesk.services.transitions import MESSAGE_TRANSITIONS, RERUN_FROM, check_transition
from chatdesk.services.unit_of_work import UnitOfWork, owned_message, owned_thread
from chatdesk.services.usage import run_tokens
from chatdesk.store.base import utcnow
from chatdesk.store.models import Execution, Message, Thread
from chatdesk.vocabulary import ACTIVE_EXECUTION_STATUSES, ExecutionStatus, MessageStatus, Role

if TYPE_CHECKING:
    from chatdesk.services.attachments import AttachmentService

MAX_USER_CONTENT_CHARS = 100_000
MAX_CONTENT_CHARS = 4_000_000
DEFAULT_PAGE_SIZE = 50
_MAX_IN = 500
"""Ids per IN list when a branch's runs are deleted (SQLite caps bound variables)."""
MAX_PAGE_SIZE = 1_000
EARLIER_RUNS_KEY = "earlier_executions"
"""Metadata key of a retried message: the ids of its earlier executions, oldest first."""


@dataclass(frozen=True)
class SendResult:
    """What ``send`` wrote: the message and, when it triggers one, its execution."""

    message: MessageRecord
    execution: ExecutionRecord | None


@dataclass(frozen=True)
class MessagePage:
    """A stretch of the path the person sees, oldest first, and whether it goes on
    above (``has_older``) or below (``has_newer``). Each message knows its version."""

    messages: list[MessageRecord]
    has_older: bool
    has_newer: bool = False


def clean_content(content: str, role: Role) -> str:
    """Validate ``content`` for ``role``; what a person typed is trimmed, replies are not."""
    if not isinstance(content, str):
        raise ValidationError("Message content must be text.")
    if role is Role.ASSISTANT:
        if len(content) > MAX_CONTENT_CHARS:
            raise ValidationError(f"A reply can have at most {MAX_CONTENT_CHARS:,} characters.")
        return content
    cleaned = content.strip()
    if not cleaned:
        raise ValidationError("A message cannot be empty.")
    limit = MAX_USER_CONTENT_CHARS if role is Role.USER else MAX_CONTENT_CHARS
    if len(cleaned) > limit:
        raise ValidationError(
            f"This message has {len(cleaned):,} characters; the limit is {limit:,}."
        )
    return cleaned


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(f"Unknown role {role!r}; use user, assistant or system.") from None


class MessageService:
    """Messages of threads the acting user owns."""

    def __init__(self, uow: UnitOfWork, attachments: AttachmentService) -> None:
        self._uow = uow
        self._attachments = attachments

    def send(
        self,
        user_id: int,
        thread_id: int,
        content: str,
        *,
        triggers_execution: bool = True,
        role: Role | str = Role.USER,
        metadata: dict[str, Any] | None = None,
        attachments: Sequence[AttachmentRecord] = (),
    ) -> SendResult:
        """Write a message and, if it triggers one, its pending execution, atomically.

        A message that triggers an execution starts ``pending``; others are complete
        as written. The thread moves to the top of its user's list. ``attachments``
        (added by this user, or already sent by them) are linked in the same
        transaction, in order; a message carrying files may have no text.
        """
        role = parse_role(role)
        links.check_files_count(len(attachments))
        text = content_with_files(content, role, bool(attachments))
        with self._uow.write() as (session, changes):
            return _write_message(
                session,
                changes,
                self._uow.owner,
                user_id,
                thread_id,
                text,
                role,
                triggers_execution,
                metadata,
                files=attachments,
            )

    def add_reply(
        self,
        user_id: int,
        thread_id: int,
        execution_id: int | None,
        content: str = "",
        status: MessageStatus = MessageStatus.PROCESSING,
    ) -> MessageRecord:
        """Create an assistant message at the end of the thread's current path."""
        text = clean_content(content, Role.ASSISTANT)
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            message = Message(
                thread_id=thread.id,
                user_id=user_id,
                role=Role.ASSISTANT,
                content=text,
                status=status,
                execution_id=execution_id,
                meta={},
                parent_id=tree.current_leaf(session, thread),
            )
            session.add(message)
            session.flush()
            thread.current_leaf_id = message.id
            _touch(thread)
            session.flush()
            record = MessageRecord.of(message)
            changes.append(_message_change(ChangeKind.CREATED, record))
            changes.append(_thread_touched(thread))
        return record

    def get(self, user_id: int, message_id: int) -> MessageRecord:
        with self._uow.read() as session:
            message = owned_message(session, user_id, message_id)
            return _records(session, message.thread_id, [message])[0]

    def list(
        self,
        user_id: int,
        thread_id: int,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        before_id: int | None = None,
        after_id: int | None = None,
    ) -> MessagePage:
        """A page of the current path: its last ``limit`` messages, or those just above
        ``before_id``, or with ``after_id`` the ``limit`` just below it."""
        _check_page_size(limit)
        if before_id is not None and after_id is not None:
            raise ValidationError("A page is read before one message or after one, not both.")
        with self._uow.read() as session:
            thread = owned_thread(session, user_id, thread_id)
            if after_id is not None:
                _in_thread(session, user_id, thread, after_id)
                ids = _down_to_leaf(session, thread, after_id, limit + 1)
                return MessagePage(
                    _records(session, thread.id, tree.load(session, ids[:limit])),
                    has_older=True,
                    has_newer=len(ids) > limit,
                )
            if before_id is None:
                end = tree.current_leaf(session, thread)
            else:
                end = _in_thread(session, user_id, thread, before_id).parent_id
            if end is None:
                return MessagePage([], has_older=False)
            ids = tree.ids_up(session, thread.id, end, limit)
            rows = tree.load(session, ids)
            return MessagePage(
                _records(session, thread.id, rows),
                has_older=bool(rows) and rows[0].parent_id is not None,
            )

    def previews(self, user_id: int, thread_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        """The last worded message (id, text) of each thread's current path, read for
        many threads at once: the thread list's previews of a screenful of chats in two
        queries, not a page read each. A thread with no words yet gives ``(0, "")``."""
        found: dict[int, tuple[int, str]] = {}
        with self._uow.read() as session:
            threads = session.scalars(
                select(Thread).where(Thread.id.in_(thread_ids), Thread.user_id == user_id)
            ).all()
            leaves = {t.id: tree.current_leaf(session, t) for t in threads}
            ends = _texts(session, [leaf for leaf in leaves.values() if leaf is not None])
            parents = _texts(
                session,
                [end[0] for end in ends.values() if end[0] is not None and not end[1].strip()],
            )
            for thread_id, leaf in leaves.items():
                found[thread_id] = (0, "")
                if leaf is None or leaf not in ends:
                    continue
                parent, text = ends[leaf]
                if text.strip():
                    found[thread_id] = (leaf, text)
                elif parent is not None and parent in parents and parents[parent][1].strip():
                    found[thread_id] = (parent, parents[parent][1])
        return found

    def around(
        self, user_id: int, thread_id: int, message_id: int, *, limit: int = DEFAULT_PAGE_SIZE
    ) -> MessagePage:
        """The page centred on ``message_id``: ``limit`` messages up to and including it
        and ``limit`` after it, for opening a thread at a search hit or far back.

        A message on another branch becomes part of the current path first (the branch
        is chosen and remembered), so the page shows it where it was written.
        """
        _check_page_size(limit)
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            message = _in_thread(session, user_id, thread, message_id)
            if tree.choose_path_to(session, message):
                _set_leaf(session, thread, tree.leaf_below(session, thread.id, message.id))
                changes.append(_thread_touched(thread))
            return _page_around(session, thread, message, limit)

    def switch_version(
        self,
        user_id: int,
        message_id: int,
        step: int,
        *,
        find_leaf: bool = True,
        above: int = DEFAULT_PAGE_SIZE,
        below: int = DEFAULT_PAGE_SIZE,
    ) -> MessagePage:
        """Show the version ``step`` places from ``message_id`` among its siblings (-1:
        the previous one), with the conversation below it, and remember it.

        Returns the page around the version now shown: up to ``above`` messages of the
        path ending at it (itself included) and ``below`` after it. One row changes (its
        ``chosen_at``) and the thread's leaf moves to the end of its chosen path. That
        end may lie 10,000 messages down (a walk of ~6 ms): with ``find_leaf=False``
        the leaf is left unset, meaning "follow the chosen versions", for the caller
        to ``settle_leaf`` once it has shown the page.
        """
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            thread = owned_thread(session, user_id, message.thread_id)
            siblings = tree.sibling_ids(session, message)
            at = siblings.index(message.id)
            target = session.get(Message, siblings[max(0, min(len(siblings) - 1, at + step))])
            assert target is not None
            if tree.is_chosen(session, message):  # on the path shown: one row changes
                changed = target.id != message.id
                if changed:
                    tree.choose(session, target)
                    session.flush()
            else:  # flipped from a version not shown (another window's stale view)
                changed = tree.choose_path_to(session, target)
            if changed or thread.current_leaf_id is None:
                leaf = tree.leaf_below(session, thread.id, target.id) if find_leaf else None
                _set_leaf(session, thread, leaf)
                changes.append(_thread_touched(thread))
            return _page_around(session, thread, target, below, above)

    def settle_leaf(self, user_id: int, thread_id: int) -> int | None:
        """Store where the thread's path ends, if a flip left it to be found."""
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            if thread.current_leaf_id is None:
                thread.current_leaf_id = tree.current_leaf(session, thread)
                if thread.current_leaf_id is not None:
                    changes.append(_thread_touched(thread))
            return thread.current_leaf_id

    def edit(self, user_id: int, message_id: int, content: str) -> MessageRecord:
        """Replace a message's text (a reply's streamed text; a person's own edits make
        a new version instead, ``send_version``)."""
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            text = clean_content(content, Role(message.role))
            if text == message.content:
                return MessageRecord.of(message)
            message.content = text
            session.flush()
            record = MessageRecord.of(message)
            changes.append(_message_change(ChangeKind.UPDATED, record, {"content": text}))
        return record

    def set_status(self, user_id: int, message_id: int, status: MessageStatus) -> MessageRecord:
        """Move a message along its lifecycle; an illegal move raises."""
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            old = MessageStatus(message.status)
            check_transition(MESSAGE_TRANSITIONS, old, MessageStatus(status), "message")
            message.status = MessageStatus(status)
            session.flush()
            record = MessageRecord.of(message)
            changes.append(
                _message_change(
                    ChangeKind.STATUS_CHANGED, record, {"status": record.status, "old_status": old}
                )
            )
        return record

    def branch_size(self, user_id: int, message_id: int) -> int:
        """How many messages ``delete`` would remove: the message and all below it."""
        with self._uow.read() as session:
            message = owned_message(session, user_id, message_id)
            return len(tree.subtree_ids(session, message.thread_id, message.id))

    def delete(self, user_id: int, message_id: int) -> int:
        """``delete_branch`` without keeping anything for Undo; how many messages went."""
        return self.delete_branch(user_id, message_id, keep=False).count

    def delete_branch(self, user_id: int, message_id: int, *, keep: bool = True) -> DeletedBranch:
        """Delete a message and every message below it (all their versions), with the
        runs the questions among them asked for; returns how many messages went. Refused
        while one of those runs is still going. (Deleting a reply alone keeps its run:
        it belongs to the question, whose Run details still show it.)

        If the current path ran through it, the path moves to the chosen remaining
        version (or ends at the parent). The branch goes in one statement, whatever its
        size: the database refuses to leave a message without its parent. With
        ``keep``, a branch of up to ``UNDO_LIMIT`` messages is kept (rows of its
        messages, runs, steps and attachment links) for ``restore``, and its files are
        held until ``forget``; otherwise files no other message uses go at once.
        """
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            thread = owned_thread(session, user_id, message.thread_id)
            branch = {"start": message.id, "thread": thread.id}
            in_branch = Message.id.in_(
                select(text("id")).select_from(text(f"({tree.SUBTREE_SQL}) AS branch"))
            )
            rows = session.execute(
                select(Message.id, Message.role, Message.execution_id, Message.meta).where(
                    in_branch
                ),
                branch,
            ).all()
            ids = {row.id for row in rows}
            asked = [row for row in rows if row.role == Role.USER]  # a reply's run is its
            runs = {row.execution_id for row in asked if row.execution_id is not None}
            for row in asked:  # question's: it stays with the question (and its trace)
                earlier = (row.meta or {}).get(EARLIER_RUNS_KEY, [])
                runs.update(run for run in earlier if isinstance(run, int))
            live = _live_runs(session, thread.id, runs)
            if live:
                raise IllegalTransitionError(
                    "A reply in this branch is still being written; stop it before deleting."
                )
            parent_id = message.parent_id
            kept = (
                undo.capture(session, in_branch, branch, sorted(runs), thread.current_leaf_id)
                if keep and len(ids) <= undo.UNDO_LIMIT
                else None
            )
            attached = links.linked_by(session, in_branch, branch)
            if kept is not None:  # their files stay while Undo is offered
                links.hold(session, user_id, attached)
            leaf_gone = thread.current_leaf_id is None or thread.current_leaf_id in ids
            if leaf_gone:
                thread.current_leaf_id = None
                session.flush()
            session.expunge(message)
            session.execute(
                delete(Message).where(in_branch),
                branch,
                execution_options={"synchronize_session": False},
            )
            ordered = sorted(runs)
            for start in range(0, len(ordered), _MAX_IN):
                session.execute(
                    delete(Execution).where(
                        Execution.thread_id == thread.id,
                        Execution.id.in_(ordered[start : start + _MAX_IN]),
                    ),
                    execution_options={"synchronize_session": False},
                )
            if leaf_gone:
                thread.current_leaf_id = _leaf_after_delete(session, thread, parent_id)
            session.flush()
            if kept is None:
                self._attachments.free_unused(session, attached)
            changes.append(
                Change(
                    ChangeKind.DELETED,
                    Entity.MESSAGE,
                    message_id,
                    thread.id,
                    user_id,
                    {"branch": len(ids), "parent_id": parent_id},
                )
            )
            changes.append(_thread_touched(thread))
        return DeletedBranch(user_id, thread.id, message_id, len(ids), kept)

    def restore(self, deleted: DeletedBranch) -> None:
        """Undo ``delete_branch``: the branch, its runs and steps come back as they were
        (same ids), and the path it was on. Refused if the chat changed where it stood."""
        if deleted.rows is None:
            raise ValidationError("That delete was too large to undo.")
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, deleted.user_id, deleted.thread_id)
            undo.put_back(session, deleted.rows)
            links.unhold(session, deleted.user_id, deleted.rows.attachment_ids())
            thread.current_leaf_id = deleted.rows.leaf
            session.flush()
            changes.append(_thread_touched(thread))

    def forget(self, deleted: DeletedBranch) -> None:
        """Undo will not come for ``deleted``: the files only its messages used go now
        (otherwise ``sweep`` frees them once their hold is ``HOLD_S`` old)."""
        if deleted.rows is None or not deleted.rows.links:
            return
        ids = deleted.rows.attachment_ids()
        with self._uow.write() as (session, _changes):
            links.unhold(session, deleted.user_id, ids)
            self._attachments.free_unused(session, ids)

    def retry(self, user_id: int, message_id: int) -> SendResult:
        """Send a failed or cancelled message again: a new execution, the old one kept;
        its reply will be a new version of the failed one."""
        return self._rerun(user_id, message_id, regenerate=False)

    def regenerate(self, user_id: int, message_id: int) -> SendResult:
        """Ask again for the reply to ``message_id`` (a message the person wrote, or a
        reply: then the message it answers), whatever its end and wherever it is.

        A new execution answers it; its reply is a new version beside the earlier ones,
        whose runs stay browsable.
        """
        return self._rerun(user_id, message_id, regenerate=True)

    def send_version(self, user_id: int, message_id: int, content: str) -> SendResult:
        """A new version of a message the person wrote: ``content`` beside it (same
        parent), becoming the current path's end, and a run answering it."""
        text = clean_content(content, Role.USER)
        with self._uow.write() as (session, changes):
            source = owned_message(session, user_id, message_id)
            if source.role != Role.USER:
                raise ValidationError("Only a message you wrote can be edited.")
            return _write_message(
                session,
                changes,
                self._uow.owner,
                user_id,
                source.thread_id,
                text,
                Role.USER,
                True,
                {"edited_from": source.id},
                parent=_Parent(source.parent_id),
                files_of=source.id,
            )

    def _rerun(self, user_id: int, message_id: int, *, regenerate: bool) -> SendResult:
        with self._uow.write() as (session, changes):
            message = owned_message(session, user_id, message_id)
            if regenerate and message.role == Role.ASSISTANT and message.parent_id is not None:
                asker = session.get(Message, message.parent_id)
                message = asker if asker is not None else message
            if message.role != Role.USER or not message.triggers_execution:
                raise ValidationError("Only a message that asked for a reply can be retried.")
            old = MessageStatus(message.status)
            if not regenerate:
                check_transition(MESSAGE_TRANSITIONS, old, MessageStatus.PENDING, "message")
            elif old not in RERUN_FROM:
                raise IllegalTransitionError(
                    "This reply is still being written; stop it before regenerating."
                )
            thread = owned_thread(session, user_id, message.thread_id)
            execution = _new_execution(session, thread, self._uow.owner)
            if message.execution_id is not None:  # the trace keeps showing the old run
                meta = dict(message.meta or {})
                meta[EARLIER_RUNS_KEY] = [*meta.get(EARLIER_RUNS_KEY, []), message.execution_id]
                message.meta = meta
            message.status = MessageStatus.PENDING
            message.execution_id = execution.id
            tree.choose_path_to(session, message)
            _set_leaf(session, thread, message.id)
            _touch(thread)
            session.flush()
            result = SendResult(MessageRecord.of(message), ExecutionRecord.of(execution))
            changes.append(
                _message_change(
                    ChangeKind.STATUS_CHANGED,
                    result.message,
                    {"status": MessageStatus.PENDING, "old_status": old},
                )
            )
            assert result.execution is not None
            changes.append(execution_change(ChangeKind.CREATED, result.execution, user_id))
            changes.append(_thread_touched(thread))
        return result


@dataclass(frozen=True)
class DeletedBranch:
    """What ``delete_branch`` took away: how many messages, and (when kept) the rows."""

    user_id: int
    thread_id: int
    message_id: int
    count: int
    rows: undo.KeptRows | None


@dataclass(frozen=True)
class _Parent:
    """An explicit parent for a new message (None: a first message), instead of the
    current leaf."""

    id: int | None


def _in_thread(session: Session, user_id: int, thread: Thread, message_id: int) -> Message:
    message = owned_message(session, user_id, message_id)
    if message.thread_id != thread.id:
        raise ValidationError(f"Message {message_id} is not in thread {thread.id}.")
    return message


def _records(session: Session, thread_id: int, rows: Sequence[Message]) -> list[MessageRecord]:
    """Records of ``rows``, each with its version among its siblings and its files
    (read for all rows at once)."""
    found = tree.versions(session, thread_id, rows)
    files = links.for_messages(session, [row.id for row in rows])
    runs = run_tokens(session, [row.execution_id for row in rows if row.role == Role.ASSISTANT])
    return [
        MessageRecord.of(
            row,
            found.get(row.id),
            files.get(row.id, ()),
            runs.get(row.execution_id) if row.role == Role.ASSISTANT and row.execution_id else None,
        )
        for row in rows
    ]


def content_with_files(content: str, role: Role, has_files: bool) -> str:
    """``clean_content``, except that a message carrying files may have no text."""
    if has_files and isinstance(content, str) and not content.strip():
        return ""
    return clean_content(content, role)


def _texts(session: Session, ids: list[int]) -> dict[int, tuple[int | None, str]]:
    """(parent id, content) of each message of ``ids``."""
    if not ids:
        return {}
    rows = session.execute(
        select(Message.id, Message.parent_id, Message.content).where(Message.id.in_(ids))
    )
    return {row.id: (row.parent_id, row.content) for row in rows}


def _page_around(
    session: Session, thread: Thread, message: Message, limit: int, above_limit: int | None = None
) -> MessagePage:
    """``limit`` messages after ``message`` and up to ``above_limit`` (default ``limit``)
    ending at it."""
    up = limit if above_limit is None else above_limit
    above = tree.load(session, tree.ids_up(session, thread.id, message.id, up))
    below = _down_to_leaf(session, thread, message.id, limit + 1)
    return MessagePage(
        _records(session, thread.id, above + tree.load(session, below[:limit])),
        has_older=bool(above) and above[0].parent_id is not None,
        has_newer=len(below) > limit,
    )


def _down_to_leaf(session: Session, thread: Thread, start: int, count: int) -> list[int]:
    """Up to ``count`` ids below ``start`` along the path shown, which ends at the
    current leaf even where that has children (a reply being asked for again)."""
    if start == thread.current_leaf_id:
        return []
    ids = tree.ids_down(session, thread.id, start, count)
    if thread.current_leaf_id in ids:
        return ids[: ids.index(thread.current_leaf_id) + 1]
    return ids


def _set_leaf(session: Session, thread: Thread, leaf_id: int | None) -> None:
    thread.current_leaf_id = leaf_id


def _leaf_after_delete(session: Session, thread: Thread, parent_id: int | None) -> int | None:
    """Where the path ends once a branch below ``parent_id`` is gone: down the chosen
    remaining version, or at the parent itself."""
    if parent_id is None:
        root = tree.chosen_root(session, thread.id)
        return None if root is None else tree.leaf_below(session, thread.id, root)
    return tree.leaf_below(session, thread.id, parent_id)


def _live_runs(session: Session, thread_id: int, runs: set[int]) -> int:
    """How many of ``runs`` are still going (the thread's live runs are few: read
    them, rather than an IN list of a large branch's runs)."""
    live = session.scalars(
        select(Execution.id).where(
            Execution.thread_id == thread_id, Execution.status.in_(ACTIVE_EXECUTION_STATUSES)
        )
    )
    return sum(1 for run in live if run in runs)


def _new_execution(session: Session, thread: Thread, owner: RunOwner) -> Execution:
    """A pending run of the thread's crew and model (its id assigned), owned by ``owner``."""
    execution = Execution(
        thread_id=thread.id, crew=thread.crew, model=thread.model, status=ExecutionStatus.PENDING
    )
    claim(session, execution, owner)
    session.add(execution)
    session.flush()
    return execution


def _write_message(
    session: Session,
    changes: list[Change],
    owner: RunOwner,
    user_id: int,
    thread_id: int,
    text: str,
    role: Role,
    triggers_execution: bool,
    metadata: dict[str, Any] | None,
    parent: _Parent | None = None,
    files: Sequence[AttachmentRecord] = (),
    files_of: int | None = None,
) -> SendResult:
    """The body of ``send``, inside a caller's transaction: the message follows
    ``parent`` (default: the current path's end) and becomes the path's new end. It
    carries ``files``, or the files of message ``files_of`` (an edit keeps them)."""
    thread = owned_thread(session, user_id, thread_id)
    parent_id = tree.current_leaf(session, thread) if parent is None else parent.id
    execution = _new_execution(session, thread, owner) if triggers_execution else None
    message = Message(
        thread_id=thread.id,
        user_id=user_id,
        role=role,
        content=text,
        status=MessageStatus.PENDING if triggers_execution else MessageStatus.COMPLETED,
        triggers_execution=triggers_execution,
        execution_id=execution.id if execution else None,
        meta=dict(metadata or {}),
        parent_id=parent_id,
    )
    session.add(message)
    session.flush()
    attached = links.link(session, user_id, message.id, files)
    if files_of is not None:
        links.copy(session, {files_of: message.id})
        attached = links.for_messages(session, [message.id]).get(message.id, ())
    tree.choose(session, message)
    thread.current_leaf_id = message.id
    _touch(thread)
    session.flush()
    result = SendResult(
        MessageRecord.of(message, attachments=attached),
        ExecutionRecord.of(execution) if execution else None,
    )
    changes.append(_message_change(ChangeKind.CREATED, result.message))
    if result.execution is not None:
        changes.append(execution_change(ChangeKind.CREATED, result.execution, user_id))
    changes.append(_thread_touched(thread))
    return result


def _check_page_size(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError(f"A page holds 1 to {MAX_PAGE_SIZE} messages.")


def _older(
    session: Session, thread_id: int, before_id: int | None, limit: int
) -> tuple[list[MessageRecord], bool]:
    """Up to ``limit`` messages before ``before_id`` (ascending), and whether more exist."""
    query = select(Message).where(Message.thread_id == thread_id)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = list(session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)))
    return [MessageRecord.of(row) for row in reversed(rows[:limit])], len(rows) > limit


def _newer(
    session: Session, thread_id: int, after_id: int, limit: int
) -> tuple[list[MessageRecord], bool]:
    """Up to ``limit`` messages after ``after_id`` (ascending), and whether more exist."""
    query = select(Message).where(Message.thread_id == thread_id, Message.id > after_id)
    rows = list(session.scalars(query.order_by(Message.id).limit(limit + 1)))
    return [MessageRecord.of(row) for row in rows[:limit]], len(rows) > limit


def _touch(thread: Thread) -> None:
    """Move the thread to the top of its user's list (the application keeps updated_at)."""
    thread.updated_at = utcnow()


def _thread_touched(thread: Thread) -> Change:
    from chatdesk.services.records import ThreadRecord

    record = ThreadRecord.of(thread)
    return Change(
        ChangeKind.UPDATED,
        Entity.THREAD,
        record.id,
        record.id,
        record.user_id,
        {"updated_at": record.updated_at, "current_leaf_id": record.current_leaf_id},
        record,
    )


def _message_change(
    kind: ChangeKind, record: MessageRecord, fields: dict[str, Any] | None = None
) -> Change:
    return Change(
        kind, Entity.MESSAGE, record.id, record.thread_id, record.user_id, fields or {}, record
    )


def execution_change(
    kind: ChangeKind, record: ExecutionRecord, user_id: int, fields: dict[str, Any] | None = None
) -> Change:
    return Change(
        kind, Entity.EXECUTION, record.id, record.thread_id, user_id, fields or {}, record
    )
