"""An import reports progress, stops on request and is invisible until it is complete."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.transfer import (
    WRITE_CHUNK,
    ImportCancelled,
    ImportProgress,
    ImportStage,
    TransferError,
)
from chatdesk.store.models import Execution, Message, Thread, User
from tests.support.exports import export_document, write_export
from tests.ui.conftest import add_messages

MESSAGES = 3 * WRITE_CHUNK + 10


def _rows(services: Services) -> tuple[int, int, int]:
    """Threads, messages and executions of every user, the staging one included."""
    with services.store.session_factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Thread, Message, Execution)
        )


def test_progress_goes_through_the_stages_in_order(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    seen: list[ImportProgress] = []
    result = services.transfer.import_file(
        user_id, write_export(tmp_path / "big.json", MESSAGES), on_progress=seen.append
    )
    assert result.messages == MESSAGES
    stages = [p.stage for p in seen]
    assert stages == sorted(stages, key=list(ImportStage).index)
    assert set(stages) == {ImportStage.READING, ImportStage.WRITING}
    writing = [p.done for p in seen if p.stage is ImportStage.WRITING]
    assert writing == sorted(writing) and writing[-1] == MESSAGES and len(writing) > 3
    assert all(p.total == MESSAGES for p in seen if p.stage is not ImportStage.READING)


def test_written_chunks_stay_hidden_until_the_import_is_complete(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    seen_mid_way: list[tuple[int, int, int]] = []

    def look(progress: ImportProgress) -> None:
        mid_way = progress.stage is ImportStage.WRITING and progress.done >= 2 * WRITE_CHUNK
        if mid_way and not seen_mid_way:
            hits = services.search.search(user_id, "imports", limit=5)
            seen_mid_way.append((services.threads.count(user_id), len(hits), _rows(services)[1]))

    path = write_export(tmp_path / "big.json", MESSAGES)
    result = services.transfer.import_file(user_id, path, on_progress=look)
    # half way: rows are in the database, yet the user has no thread and finds nothing
    assert seen_mid_way == [(0, 0, seen_mid_way[0][2])] and seen_mid_way[0][2] >= 2 * WRITE_CHUNK
    assert services.threads.list(user_id)[0].id == result.thread.id
    assert len(services.search.search(user_id, "imports", limit=5)) == 5
    assert _rows(services) == (1, MESSAGES, MESSAGES // 2)
    with services.store.session_factory() as session:
        rows = session.execute(
            select(Message.content, Message.user_id, Message.execution_id)
            .where(Message.thread_id == result.thread.id)
            .order_by(Message.id)
        ).all()
    assert [r.content for r in rows] == [
        f"message {n}: a line of text about imports" for n in range(MESSAGES)
    ]
    assert {r.user_id for r in rows} == {user_id}
    assert all(r.execution_id is not None for r in rows)


@pytest.mark.parametrize(
    ("stage", "after"),
    [
        (ImportStage.READING, 10),
        (ImportStage.READING, 60_000),
        (ImportStage.WRITING, 2 * WRITE_CHUNK),
    ],
)
def test_a_cancel_at_any_stage_keeps_nothing(
    services: Services, user_id: int, tmp_path: Path, stage: ImportStage, after: int
) -> None:
    reports: list[ImportProgress] = []
    stop = False

    def on_progress(progress: ImportProgress) -> None:
        nonlocal stop
        reports.append(progress)
        stop = stop or (progress.stage is stage and progress.done >= after)

    path = write_export(tmp_path / "big.json", MESSAGES)
    with pytest.raises(ImportCancelled):
        services.transfer.import_file(
            user_id, path, on_progress=on_progress, should_stop=lambda: stop
        )
    assert _rows(services) == (0, 0, 0)
    if stage is ImportStage.WRITING:  # it had written rows, and said it removed them
        assert reports[-1].stage is ImportStage.DISCARDING
        assert reports[-1].done == reports[-1].total >= after


def test_rows_left_by_a_crashed_import_go_with_the_next_import(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    staging = services.users.ensure("chatdesk: import in progress")  # an older chatdesk's
    left = services.threads.create(staging, "half written")
    add_messages(services.store, left.id, staging, 1_500)
    result = services.transfer.import_file(user_id, write_export(tmp_path / "a.json", 10))
    assert _rows(services) == (1, 10, 5)
    assert services.threads.list(user_id)[0].id == result.thread.id
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1  # staging gone


def test_a_bad_file_writes_nothing_at_all(services: Services, user_id: int, tmp_path: Path) -> None:
    document = export_document(MESSAGES)
    text = json.dumps(document)
    document["messages"][MESSAGES - 5]["role"] = "robot"
    broken = {"cut.json": text[: len(text) // 2], "robot.json": json.dumps(document)}
    reasons = {
        "cut.json": "not valid JSON (messages[",
        "robot.json": f"messages[{MESSAGES - 5}].role",
    }
    for name, content in broken.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(TransferError, match=re.escape(reasons[name])):
            services.transfer.import_file(user_id, tmp_path / name)
        assert _rows(services) == (0, 0, 0)
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1  # not even staging
