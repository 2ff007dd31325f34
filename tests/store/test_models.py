"""The database itself enforces the data model: constraints, cascades, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from chatdesk.services import Services
from chatdesk.store.migrate import Store
from chatdesk.store.models import Execution, ExecutionLog, Message, Thread, User
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role


def _thread(store: Store, user_name: str = "ada") -> tuple[int, int]:
    with store.session_factory.begin() as session:
        user = User(name=user_name)
        session.add(user)
        session.flush()
        thread = Thread(user_id=user.id, title="First")
        session.add(thread)
        session.flush()
        return user.id, thread.id


def _raw(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_message_created_in_a_valid_thread(store: Store) -> None:
    user_id, thread_id = _thread(store)
    with store.session_factory.begin() as session:
        session.add(Message(thread_id=thread_id, user_id=user_id, role=Role.USER, content="hi"))
    with store.session_factory() as session:
        message = session.scalars(select(Message)).one()
        assert message.thread.title == "First"
        assert message.status is MessageStatus.PENDING
        assert message.meta == {}


def test_message_thread_and_execution_relationships(store: Store) -> None:
    user_id, thread_id = _thread(store)
    with store.session_factory.begin() as session:
        execution = Execution(thread_id=thread_id, crew="assistant")
        session.add(execution)
        session.flush()
        session.add(
            Message(
                thread_id=thread_id,
                user_id=user_id,
                role=Role.USER,
                content="hi",
                triggers_execution=True,
                execution_id=execution.id,
            )
        )
    with store.session_factory() as session:
        thread = session.get(Thread, thread_id)
        assert thread is not None
        [message] = thread.messages
        assert message.execution is not None
        assert message.execution.status is ExecutionStatus.PENDING
        assert message.execution.thread.id == thread_id
        assert [e.id for e in thread.executions] == [message.execution.id]


@pytest.mark.parametrize(
    ("column", "value"), [("role", "robot"), ("status", "done"), ("status", "PENDING")]
)
def test_database_rejects_invalid_enumerations(store: Store, column: str, value: str) -> None:
    user_id, thread_id = _thread(store)
    values = {"role": "user", "status": "pending", column: value}
    with pytest.raises(IntegrityError, match=r"(?i)check"):
        _raw(
            store,
            "INSERT INTO messages (thread_id, user_id, role, content, status, metadata)"
            " VALUES (:t, :u, :role, 'x', :status, '{}')",
            t=thread_id,
            u=user_id,
            **values,
        )


def test_database_rejects_invalid_execution_status(store: Store) -> None:
    _user_id, thread_id = _thread(store)
    with pytest.raises(IntegrityError, match=r"(?i)check"):
        _raw(
            store,
            "INSERT INTO executions (thread_id, crew, status) VALUES (:t, 'a', 'sleeping')",
            t=thread_id,
        )


def test_python_rejects_invalid_enumerations_before_the_database(store: Store) -> None:
    user_id, thread_id = _thread(store)
    with pytest.raises(StatementError), store.session_factory.begin() as session:
        session.add(Message(thread_id=thread_id, user_id=user_id, role="robot", content="x"))


def test_timestamps_are_set_automatically_in_utc(store: Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    user_id, thread_id = _thread(store)
    _raw(
        store,
        "INSERT INTO messages (thread_id, user_id, role, content, status, metadata)"
        " VALUES (:t, :u, 'user', 'raw', 'pending', '{}')",
        t=thread_id,
        u=user_id,
    )
    with store.session_factory.begin() as session:
        session.add(Message(thread_id=thread_id, user_id=user_id, role=Role.USER, content="orm"))
    with store.session_factory() as session:
        rows = list(session.scalars(select(Message).order_by(Message.id)))
        thread = session.get(Thread, thread_id)
        assert thread is not None
        stamps = [thread.created_at, thread.updated_at]
        for row in rows:
            stamps += [row.created_at, row.updated_at]
    after = datetime.now(UTC) + timedelta(seconds=2)
    for stamp in stamps:
        assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
        assert before <= stamp <= after


def test_naive_datetimes_are_refused(store: Store) -> None:
    user_id, _thread_id = _thread(store)
    with pytest.raises(StatementError, match="naive"), store.session_factory.begin() as session:
        session.add(Thread(user_id=user_id, title="x", updated_at=datetime(2024, 1, 1)))


def test_message_for_unknown_thread_fails(store: Store) -> None:
    user_id, thread_id = _thread(store)
    with pytest.raises(IntegrityError):
        _raw(
            store,
            "INSERT INTO messages (thread_id, user_id, role, content, status, metadata)"
            " VALUES (:t, :u, 'user', 'x', 'pending', '{}')",
            t=thread_id + 1000,
            u=user_id,
        )


def test_message_with_another_users_id_fails_at_the_database(store: Store) -> None:
    _ada, thread_id = _thread(store, "ada")
    with store.session_factory.begin() as session:
        bob = User(name="bob")
        session.add(bob)
        session.flush()
        bob_id = bob.id
    with pytest.raises(IntegrityError):
        _raw(
            store,
            "INSERT INTO messages (thread_id, user_id, role, content, status, metadata)"
            " VALUES (:t, :u, 'user', 'x', 'pending', '{}')",
            t=thread_id,
            u=bob_id,
        )


def test_message_cannot_be_moved_to_another_users_thread(store: Store) -> None:
    ada_id, ada_thread = _thread(store, "ada")
    _bob_id, bob_thread = _thread(store, "bob")
    _raw(
        store,
        "INSERT INTO messages (thread_id, user_id, role, content, status, metadata)"
        " VALUES (:t, :u, 'user', 'x', 'pending', '{}')",
        t=ada_thread,
        u=ada_id,
    )
    with pytest.raises(IntegrityError):
        _raw(store, "UPDATE messages SET thread_id = :t", t=bob_thread)


def test_deleting_a_thread_removes_messages_executions_and_logs(services: Services) -> None:
    store = services.store
    user_id = services.users.ensure()
    keep = services.threads.create(user_id, "keep")
    services.messages.send(user_id, keep.id, "stays")
    doomed = services.threads.create(user_id, "doomed")
    sent = services.messages.send(user_id, doomed.id, "goes")
    assert sent.execution is not None
    services.messages.add_reply(user_id, doomed.id, sent.execution.id, "partial")
    with store.session_factory.begin() as session:
        for seq in range(3):
            session.add(ExecutionLog(execution_id=sent.execution.id, seq=seq, event="step"))
    # Raw SQL: the cascade is the database's, not the ORM's.
    _raw(store, "DELETE FROM threads WHERE id = :t", t=doomed.id)
    with store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ExecutionLog)) == 0
        assert session.scalar(select(func.count()).select_from(Execution)) == 1
        assert [m.content for m in session.scalars(select(Message))] == ["stays"]


def test_deleting_a_thread_through_the_service_cascades(services: Services) -> None:
    user_id = services.users.ensure()
    thread = services.threads.create(user_id, "doomed")
    sent = services.messages.send(user_id, thread.id, "goes")
    assert sent.execution is not None
    with services.store.session_factory.begin() as session:
        session.add(ExecutionLog(execution_id=sent.execution.id, seq=0, event="step"))
    services.threads.delete(user_id, thread.id)
    with services.store.session_factory() as session:
        for model in (Thread, Message, Execution, ExecutionLog):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_log_sequence_is_unique_per_execution(store: Store) -> None:
    _user_id, thread_id = _thread(store)
    with store.session_factory.begin() as session:
        execution = Execution(thread_id=thread_id, crew="assistant")
        session.add(execution)
        session.flush()
        execution_id = execution.id
    with pytest.raises(IntegrityError), store.session_factory.begin() as session:
        session.add(ExecutionLog(execution_id=execution_id, seq=1, event="a"))
        session.add(ExecutionLog(execution_id=execution_id, seq=1, event="b"))


def test_user_names_are_unique(store: Store) -> None:
    _thread(store, "ada")
    with pytest.raises(IntegrityError):
        _thread(store, "ada")
