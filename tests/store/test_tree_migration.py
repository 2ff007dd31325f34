"""Migration 0007 turns each line-shaped thread into a tree without losing a row.

The histories are written at revision 0006 with raw SQL, as chatdesk 0006 left them:
regenerated replies marked superseded beside their successor, a retried failed reply,
an edited-and-resent message that superseded its original, one that did not, and a
message sent while the one before still waited for its reply.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from chatdesk.services import Services
from chatdesk.services.records import Version
from chatdesk.store.connection import create_store_engine
from chatdesk.store.migrate import open_store, upgrade
from tests.support.processes import die_with_parent

SUPERSEDED = {"superseded": True}


def _at_0006(url: str) -> None:
    engine = create_store_engine(url)
    upgrade(engine, "0006")


def _write(url: str, threads: dict[int, list[tuple[int, str, dict[str, Any], int | None]]]) -> None:
    """Messages (id, role, metadata, execution id) per thread, in id order."""
    engine = create_store_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (id, name) VALUES (1, 'me')"))
        for thread_id, rows in threads.items():
            connection.execute(
                text("INSERT INTO threads (id, user_id, title) VALUES (:id, 1, 't')"),
                {"id": thread_id},
            )
            for execution in sorted({r[3] for r in rows if r[3] is not None}):
                connection.execute(
                    text(
                        "INSERT INTO executions (id, thread_id, crew, status) "
                        "VALUES (:id, :thread, 'assistant', 'completed')"
                    ),
                    {"id": execution, "thread": thread_id},
                )
            for message_id, role, meta, execution in rows:
                connection.execute(
                    text(
                        "INSERT INTO messages (id, thread_id, user_id, role, content, status, "
                        "triggers_execution, execution_id, metadata) VALUES (:id, :thread, 1, "
                        ":role, :content, 'completed', :triggers, :execution, :meta)"
                    ),
                    {
                        "id": message_id,
                        "thread": thread_id,
                        "role": role,
                        "content": f"m{message_id}",
                        "triggers": role == "user" and execution is not None,
                        "execution": execution,
                        "meta": json.dumps(meta),
                    },
                )
    engine.dispose()


def test_line_histories_become_the_trees_they_were(db_url: str) -> None:
    _at_0006(db_url)
    _write(
        db_url,
        {
            # regenerated twice: three replies to one question; then the talk went on
            1: [
                (1, "user", {"earlier_executions": [10, 11]}, 12),
                (2, "assistant", SUPERSEDED, 10),
                (3, "assistant", SUPERSEDED, 11),
                (4, "assistant", {}, 12),
                (5, "user", {}, 13),
                (6, "assistant", {}, 13),
            ],
            # a failed reply retried; an edit of the last question that superseded it
            2: [
                (20, "user", {"earlier_executions": [20]}, 21),
                (21, "assistant", {"error": "down"}, 20),
                (22, "assistant", {}, 21),
                (23, "user", SUPERSEDED, 22),
                (24, "assistant", SUPERSEDED, 22),
                (25, "user", {"edited_from": 23}, 23),
                (26, "assistant", {}, 23),
            ],
            # an edited copy of an earlier question: answered after everything, in line
            3: [
                (30, "user", {}, 30),
                (31, "assistant", {}, 30),
                (32, "user", {}, 31),
                (33, "assistant", {}, 31),
                (34, "user", {"edited_from": 30}, 32),
                (35, "assistant", {}, 32),
            ],
            # a question sent while the first waited: its reply came after it
            4: [
                (40, "user", {}, 40),
                (41, "user", {}, 41),
                (42, "assistant", {}, 40),
                (43, "assistant", {}, 41),
            ],
            5: [],
        },
    )
    store = open_store(db_url)
    services = Services(store)
    with store.engine.connect() as connection:
        parents = dict(connection.execute(text("SELECT id, parent_id FROM messages")).all())
        leaves = dict(connection.execute(text("SELECT id, current_leaf_id FROM threads")).all())
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 23
    assert parents == {
        1: None, 2: 1, 3: 1, 4: 1, 5: 4, 6: 5,
        20: None, 21: 20, 22: 20, 23: 22, 24: 23, 25: 22, 26: 25,
        30: None, 31: 30, 32: 31, 33: 32, 34: 33, 35: 34,
        40: None, 41: 40, 42: 40, 43: 41,
    }  # fmt: skip
    assert leaves == {1: 6, 2: 26, 3: 35, 4: 43, 5: None}

    def path(thread: int) -> list[tuple[int, Version | None]]:
        return [(m.id, m.version) for m in services.messages.list(1, thread).messages]

    assert path(1) == [
        (1, Version(1, 1)),
        (4, Version(3, 3)),
        (5, Version(1, 1)),
        (6, Version(1, 1)),
    ]
    assert [m for m, _ in path(2)] == [20, 22, 25, 26]
    assert path(2)[2] == (25, Version(2, 2))  # the edit is a version of what it replaced
    assert [m for m, _ in path(3)] == [30, 31, 32, 33, 34, 35]
    # the queued question stays a version beside the first reply, as the model saw it
    assert [m for m, _ in path(4)] == [40, 41, 43]
    # search still finds every message, on every branch
    assert {hit.message_id for hit in services.search.search(1, "m2")} >= {2}
    store.close()


_UPGRADE_CHILD = """
import logging, sys, time
from chatdesk.store.migrate import open_store

class StandStillAtStepThree(logging.Handler):
    # stands still inside the migration's transaction once step 2 is done: the kill
    # lands there whatever the machine's speed
    def emit(self, record):
        message = record.getMessage()
        print(message, flush=True)
        if "(3 of 5)" in message:
            time.sleep(600)

logging.getLogger("chatdesk.migration.steps").addHandler(StandStillAtStepThree())
logging.getLogger("chatdesk.migration.steps").setLevel(logging.INFO)
open_store(sys.argv[1])
"""


def test_a_kill_in_the_middle_of_0007_leaves_0006_whole_and_the_next_start_upgrades(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    _at_0006(url)
    count = 5_000
    _write(url, {1: [(1, "user", {}, None)]})
    engine = create_store_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO messages (id, thread_id, user_id, role, content, status, "
                "triggers_execution, metadata) VALUES (:id, 1, 1, :role, :content, "
                "'completed', 0, '{}')"
            ),
            [
                {"id": n, "role": "user" if n % 2 else "assistant", "content": f"m{n}"}
                for n in range(2, count + 1)
            ],
        )
    engine.dispose()
    with subprocess.Popen(
        [sys.executable, "-c", _UPGRADE_CHILD, url],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(),
    ) as child:
        assert child.stdout is not None
        seen = ""
        while "(3 of 5)" not in seen:  # copied and linked, and standing still
            line = child.stdout.readline()
            assert line, "the upgrade ended before it could be stopped"
            seen += line
        child.kill()  # SIGKILL: no clean-up of any kind
        child.wait(timeout=30)
    engine = create_store_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0006"
        assert connection.scalar(text("SELECT count(*) FROM messages")) == count
    engine.dispose()
    store = open_store(url)  # the next start upgrades it whole
    try:
        services = Services(store)
        page = services.messages.list(1, 1, limit=3).messages
        assert [m.content for m in page] == [f"m{n}" for n in range(count - 2, count + 1)]
    finally:
        store.close()
