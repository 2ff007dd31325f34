"""A read in progress never holds up a write: a search or an export beside a send.

On SQLite every write transaction takes the write lock at its start (``BEGIN
IMMEDIATE``); a session that only reads begins deferred and reads a WAL snapshot, so
another thread's write commits at once while it is open, and the read goes on seeing
what was there when it began. PostgreSQL never made readers wait.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.models import Message


def test_a_long_read_does_not_hold_up_a_send(services: Services, user_id: int) -> None:
    thread = services.threads.create(user_id, "side by side")
    services.messages.send(user_id, thread.id, "before", triggers_execution=False)
    reading = threading.Event()
    release = threading.Event()
    seen: list[int] = []

    def long_read() -> None:
        with UnitOfWork(services.store.session_factory, services.bus).read() as session:
            seen.append(session.scalar(select(func.count(Message.id))) or 0)
            reading.set()
            release.wait(10)
            seen.append(session.scalar(select(func.count(Message.id))) or 0)

    reader = threading.Thread(target=long_read)
    reader.start()
    try:
        assert reading.wait(10)
        started = time.monotonic()
        services.messages.send(user_id, thread.id, "during", triggers_execution=False)
        waited = time.monotonic() - started
    finally:
        release.set()
        reader.join(10)
    assert waited < 2.0  # not the 5 s busy timeout (nor a failure) behind the read
    assert seen[0] == 1
    if services.store.engine.dialect.name == "sqlite":
        assert seen[1] == 1  # the read kept its snapshot (PostgreSQL reads committed rows)
    assert services.messages.list(user_id, thread.id).messages[-1].content == "during"
