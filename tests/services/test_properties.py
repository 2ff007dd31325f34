"""Random sequences of service operations keep every invariant (hypothesis).

A model of what should exist is kept beside a real SQLite store; after each step the
store must match it, and the rules the database and the services promise must hold:
among them the tree's (parents in the same thread, no cycles, the path shown runs
from a first message to the current leaf, version counts match the siblings), through
random sends, answers, regenerations, edits, version flips and branch deletes.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)
from sqlalchemy import func, select, text

from chatdesk.services import Services
from chatdesk.services.errors import IllegalTransitionError, ValidationError
from chatdesk.services.transitions import MESSAGE_TRANSITIONS
from chatdesk.store.migrate import open_store
from chatdesk.store.models import Execution, Message, Thread
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role

texts = st.text(min_size=0, max_size=40)


@functools.cache
def _at_head() -> Path:
    """An empty database at head, migrated once for all the examples."""
    folder = Path(tempfile.mkdtemp(prefix="chatdesk-properties-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    open_store(f"sqlite:///{folder / 'head.db'}").close()
    return folder / "head.db"


class ServiceMachine(RuleBasedStateMachine):
    threads = Bundle("threads")
    messages = Bundle("messages")

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        path = Path(self._dir.name) / "p.db"
        shutil.copyfile(_at_head(), path)  # every example starts from the same empty store
        self.store = open_store(f"sqlite:///{path}")
        self.services = Services(self.store)
        self.users = [self.services.users.ensure("ada"), self.services.users.ensure("bob")]
        self.expected: dict[int, set[int]] = {}  # thread id -> message ids
        self.owner: dict[int, int] = {}

    def teardown(self) -> None:
        self.store.close()
        self._dir.cleanup()

    @rule(target=threads, user=st.sampled_from([0, 1]), title=texts)
    def create_thread(self, user: int, title: str) -> int:
        try:
            thread = self.services.threads.create(self.users[user], title or "x")
        except ValidationError:
            thread = self.services.threads.create(self.users[user])
        self.expected[thread.id] = set()
        self.owner[thread.id] = self.users[user]
        return thread.id

    @rule(target=messages, thread=threads, content=texts, trigger=st.booleans())
    def send(self, thread: int, content: str, trigger: bool) -> int:
        if thread not in self.expected:
            return -1
        try:
            sent = self.services.messages.send(
                self.owner[thread], thread, content, triggers_execution=trigger
            )
        except ValidationError:
            assert not content.strip()
            return -1
        self.expected[thread].add(sent.message.id)
        assert (sent.execution is not None) == trigger
        return sent.message.id

    @rule(message=messages, status=st.sampled_from(list(MessageStatus)))
    def set_status(self, message: int, status: MessageStatus) -> None:
        thread = self._thread_of(message)
        if thread is None:
            return
        before = self.services.messages.get(self.owner[thread], message).status
        try:
            self.services.messages.set_status(self.owner[thread], message, status)
            assert status in MESSAGE_TRANSITIONS[before]
        except IllegalTransitionError:
            assert status not in MESSAGE_TRANSITIONS[before]

    @rule(message=messages)
    def retry(self, message: int) -> None:
        thread = self._thread_of(message)
        if thread is None:
            return
        with contextlib.suppress(IllegalTransitionError, ValidationError):
            self.services.messages.retry(self.owner[thread], message)

    @rule(target=messages, message=messages)
    def answer(self, message: int) -> int:
        """Run the message's pending execution to its end, as the coordinator would."""
        thread = self._thread_of(message)
        if thread is None:
            return -1
        user = self.owner[thread]
        execution = self.services.messages.get(user, message).execution_id
        if execution is None or self.services.executions.get(user, execution).status != (
            ExecutionStatus.PENDING
        ):
            return -1
        try:
            start = self.services.executions.start(user, execution)
        except IllegalTransitionError:  # set_status moved its message on by hand
            return -1
        self.expected[thread].add(start.reply.id)
        self.services.executions.finish(user, execution, ExecutionStatus.COMPLETED, text="ok")
        return start.reply.id

    @rule(target=messages, message=messages)
    def regenerate(self, message: int) -> int:
        thread = self._thread_of(message)
        if thread is None:
            return -1
        with contextlib.suppress(IllegalTransitionError, ValidationError):
            return self.services.messages.regenerate(self.owner[thread], message).message.id
        return -1

    @rule(target=messages, message=messages, content=texts)
    def edit(self, message: int, content: str) -> int:
        thread = self._thread_of(message)
        if thread is None:
            return -1
        try:
            sent = self.services.messages.send_version(self.owner[thread], message, content)
        except ValidationError:
            return -1
        self.expected[thread].add(sent.message.id)
        return sent.message.id

    @rule(message=messages, step=st.sampled_from([-2, -1, 1, 2]))
    def flip(self, message: int, step: int) -> None:
        thread = self._thread_of(message)
        if thread is None:
            return
        before = self.services.threads.get(self.owner[thread], thread).current_leaf_id
        page = self.services.messages.switch_version(self.owner[thread], message, step)
        leaf = self.services.threads.get(self.owner[thread], thread).current_leaf_id
        if leaf != before:  # a real flip: the page shows the new path down to its end
            assert page.has_newer or page.messages[-1].id == leaf

    @rule(thread=threads, pinned=st.booleans())
    def pin(self, thread: int, pinned: bool) -> None:
        if thread in self.expected:
            self.services.threads.update(self.owner[thread], thread, pinned=pinned)

    @rule(message=consumes(messages))
    def delete_message(self, message: int) -> None:
        thread = self._thread_of(message)
        if thread is None:
            return
        branch = self._branch(message)
        try:
            gone = self.services.messages.delete(self.owner[thread], message)
        except IllegalTransitionError:  # a run in the branch is going: nothing goes
            return
        assert gone == len(branch)
        self.expected[thread] -= branch

    def _branch(self, message: int) -> set[int]:
        with self.store.session_factory() as session:
            children: dict[int | None, list[int]] = {}
            for message_id, parent_id in session.execute(select(Message.id, Message.parent_id)):
                children.setdefault(parent_id, []).append(message_id)
        found, todo = set(), [message]
        while todo:
            current = todo.pop()
            found.add(current)
            todo.extend(children.get(current, []))
        return found

    @rule(thread=consumes(threads))
    def delete_thread(self, thread: int) -> None:
        if thread in self.expected:
            self.services.threads.delete(self.owner[thread], thread)
            del self.expected[thread]

    def _thread_of(self, message: int) -> int | None:
        for thread, ids in self.expected.items():
            if message in ids:
                return thread
        return None

    @invariant()
    def store_matches_the_model(self) -> None:
        with self.store.session_factory() as session:
            rows = session.execute(select(Message.id, Message.thread_id)).all()
        actual: dict[int, set[int]] = {thread: set() for thread in self.expected}
        for message_id, thread_id in rows:
            assert thread_id in actual, "a message outlived its thread"
            actual[thread_id].add(message_id)
        assert actual == self.expected

    @invariant()
    def database_rules_hold(self) -> None:
        with self.store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        with self.store.session_factory() as session:
            for message in session.scalars(select(Message)):
                assert message.user_id == self.owner[message.thread_id]
                if message.role == Role.USER and message.triggers_execution:
                    execution = session.get(Execution, message.execution_id)
                    assert execution is not None and execution.thread_id == message.thread_id
            orphans = session.scalar(
                select(func.count())
                .select_from(Execution)
                .where(Execution.thread_id.not_in(list(self.expected) or [-1]))
            )
            assert orphans == 0

    @invariant()
    def every_thread_is_a_tree_shown_along_one_path(self) -> None:
        with self.store.session_factory() as session:
            parents = dict(session.execute(select(Message.id, Message.parent_id)).all())
            where = dict(session.execute(select(Message.id, Message.thread_id)).all())
            leaves = dict(session.execute(select(Thread.id, Thread.current_leaf_id)).all())
        for message_id, parent_id in parents.items():
            if parent_id is not None:
                assert where[parent_id] == where[message_id], "a parent in another thread"
            seen = set()
            while message_id is not None:  # walking up ends: no cycles
                assert message_id not in seen, "a cycle"
                seen.add(message_id)
                message_id = parents[message_id]
        for thread, ids in self.expected.items():
            leaf = leaves[thread]
            assert (leaf is None) == (not ids)
            page = self.services.messages.list(self.owner[thread], thread, limit=1000).messages
            assert [m.id for m in page[-1:]] == ([leaf] if leaf is not None else [])
            assert all(a.id == b.parent_id for a, b in itertools.pairwise(page))
            assert not page or page[0].parent_id is None
            for m in page:
                siblings = [i for i in ids if parents[i] == m.parent_id]
                assert m.version is not None and m.version.count == len(siblings)
                assert sorted(siblings)[m.version.index - 1] == m.id

    @invariant()
    def lists_are_ordered_and_private(self) -> None:
        for user in self.users:
            listed = self.services.threads.list(user)
            assert {t.id for t in listed} == {
                t for t, owner in self.owner.items() if owner == user and t in self.expected
            }
            keys = [(t.pinned, t.updated_at, t.id) for t in listed]
            assert keys == sorted(keys, reverse=True)


ServiceMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_service_operations_keep_invariants = ServiceMachine.TestCase
