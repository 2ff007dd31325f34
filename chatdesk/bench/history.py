"""A large, realistic synthetic history, written through the app's own store.

Threads and messages go in with bulk Core inserts (one transaction per batch) on a
database created by the app's migrations, so the FTS triggers, indexes and
constraints are the real ones. Texts vary in length like real chats: short questions,
medium answers, some long ones with fenced code blocks.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert, text, update

from chatdesk.store.migrate import Store, open_store
from chatdesk.store.models import Thread, User

WORDS = (
    "the a to of and in is it you that for on with as this be are was can do how what "
    "data model thread message reply python qt window list query index cache server "
    "error retry stream token agent crew task tool search history memory fast slow "
    "lisbon train hotel river castle coffee recipe garden budget plan review draft "
    "function class test value result return import config file path user system"
).split()
CODE = [
    "```python\ndef total(values: list[int]) -> int:\n"
    "    return sum(v for v in values if v > 0)\n```",
    "```sql\nSELECT id, title FROM threads WHERE user_id = ? ORDER BY updated_at DESC;\n```",
    "```bash\npip install -e '.[dev]' && python -m pytest -q\n```",
]
BATCH = 20_000


@dataclass(frozen=True)
class HistorySize:
    threads: int = 10_000
    messages: int = 1_000_000
    big_thread: int = 100_000


@dataclass(frozen=True)
class BuiltHistory:
    user_id: int
    big_thread_id: int
    seconds: float


def _text(rng: random.Random, role: str) -> str:
    if role == "user":
        return " ".join(rng.choices(WORDS, k=rng.randint(4, 30))).capitalize() + "?"
    paragraphs = [
        " ".join(rng.choices(WORDS, k=rng.randint(20, 70))).capitalize() + "."
        for _ in range(rng.randint(1, 4))
    ]
    if rng.random() < 0.15:
        paragraphs.insert(rng.randint(0, len(paragraphs)), rng.choice(CODE))
    return "\n\n".join(paragraphs)


def build_history(url: str, size: HistorySize = HistorySize(), seed: int = 7) -> BuiltHistory:
    """Fill the (new) database at ``url``; the first thread holds ``big_thread`` messages."""
    started = time.perf_counter()
    rng = random.Random(seed)
    store = open_store(url)
    try:
        return _fill(store, size, rng, started)
    finally:
        store.close()


def _fill(store: Store, size: HistorySize, rng: random.Random, started: float) -> BuiltHistory:
    messages_table = User.metadata.tables["messages"]
    base = datetime(2024, 1, 1, tzinfo=UTC)
    with store.engine.begin() as connection:
        # the app's person: "local" on SQLite, the login on PostgreSQL (else the app
        # would start as a new, empty user and never list this history)
        person = (
            "local"
            if connection.dialect.name == "sqlite"
            else str(connection.execute(text("SELECT current_user")).scalar_one())
        )
        inserted = connection.execute(insert(User).values(name=person)).inserted_primary_key
        assert inserted is not None
        user_id = inserted[0]
        connection.execute(
            insert(Thread),
            [
                {
                    "user_id": user_id,
                    "title": " ".join(rng.choices(WORDS, k=rng.randint(2, 6))).capitalize(),
                    "created_at": base + timedelta(minutes=i),
                    "updated_at": base + timedelta(minutes=i),
                }
                for i in range(size.threads)
            ],
        )
    big_thread_id = 1
    rest = max(size.messages - size.big_thread, 0)
    others = max(size.threads - 1, 1)
    plan = [(big_thread_id, size.big_thread)] + [
        (thread_id, rest // others + (1 if i < rest % others else 0))
        for i, thread_id in enumerate(range(2, size.threads + 1))
    ]
    batch: list[dict[str, object]] = []
    clock = base
    next_id = 1  # ids given here, so each message names the one before as its parent
    leaves: list[dict[str, object]] = []

    def flush() -> None:
        with store.engine.begin() as connection:
            connection.execute(insert(messages_table), batch)
        batch.clear()

    for thread_id, count in plan:
        for index in range(count):
            role = "user" if index % 2 == 0 else "assistant"
            clock += timedelta(seconds=7)
            batch.append(
                {
                    "id": next_id,
                    "parent_id": next_id - 1 if index else None,
                    "chosen_at": clock,
                    "thread_id": thread_id,
                    "user_id": user_id,
                    "role": role,
                    "content": _text(rng, role),
                    "status": "completed",
                    "triggers_execution": role == "user",
                    "metadata": {},
                    "created_at": clock,
                    "updated_at": clock,
                }
            )
            next_id += 1
            if len(batch) >= BATCH:
                flush()
        if count:
            leaves.append({"thread": thread_id, "leaf": next_id - 1})
    if batch:
        flush()
    threads_table = User.metadata.tables["threads"]
    with store.engine.begin() as connection:
        connection.execute(
            update(threads_table)
            .where(threads_table.c.id == bindparam("thread"))
            .values(current_leaf_id=bindparam("leaf")),
            leaves,
        )
        if connection.dialect.name == "postgresql":
            # Ids were given here: move the sequence past them, so the app's own
            # inserts (the session bench sends messages) get fresh ones.
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('messages', 'id'), max(id)) FROM messages"
                )
            )
    if store.engine.dialect.name == "postgresql":
        # What autovacuum does on a live server soon after a bulk load: statistics the
        # planner (and the search's plan choice) needs.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return BuiltHistory(user_id, big_thread_id, time.perf_counter() - started)
