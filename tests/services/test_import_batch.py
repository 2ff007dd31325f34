"""A file's chats are shown all at once or not at all, whatever stops the import."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, select, update

from chatdesk.services import Services
from chatdesk.services.import_batch import AlreadyImportedError, ImportBatch, recover
from chatdesk.services.run_owner import RunOwner, this_process
from chatdesk.services.transfer import TransferError
from chatdesk.store.base import utcnow
from chatdesk.store.models import Message, Thread, User
from tests.support.exports import write_export
from tests.ui.conftest import add_messages


def _staged_batch(services: Services, user_id: int, chats: int, messages: int) -> ImportBatch:
    """A batch with ``chats`` chats written but not published, left as a kill would."""
    batch = ImportBatch(services.transfer._uow, user_id)
    batch.__enter__()
    for n in range(chats):
        staged = batch.stage_thread({"title": f"chat {n}", "imported_from": f"test:{n}"})
        add_messages(services.store, staged, batch.staging_id, messages)
    return batch


def _counts(services: Services, user_id: int) -> tuple[int, int, int]:
    """The person's chats and messages, and the users (the staging ones included)."""
    with services.store.session_factory() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Thread).where(Thread.user_id == user_id)
            )
            or 0,
            session.scalar(
                select(func.count()).select_from(Message).where(Message.user_id == user_id)
            )
            or 0,
            session.scalar(select(func.count()).select_from(User)) or 0,
        )


def _kill(batch: ImportBatch) -> None:
    """The process died: its lock goes, nothing else happens."""
    batch._published = True
    batch.__exit__(None, None, None)


def test_a_batch_shows_nothing_until_published_then_everything(
    services: Services, user_id: int
) -> None:
    batch = _staged_batch(services, user_id, 3, 20)
    assert _counts(services, user_id) == (0, 0, 2)
    moved: list[tuple[int, int]] = []
    records = batch.publish(lambda done, total: moved.append((done, total)))
    batch.__exit__(None, None, None)
    assert moved == [(3, 3)]  # small chats move together, in one transaction
    assert sorted(r.title for r in records) == ["chat 0", "chat 1", "chat 2"]
    assert _counts(services, user_id) == (3, 60, 1)  # the staging user is gone
    assert all(r.current_leaf_id is not None for r in records)


def test_a_batch_killed_after_its_commit_point_is_finished_by_the_next_start(
    services: Services, user_id: int
) -> None:
    batch = _staged_batch(services, user_id, 3, 10)
    with services.store.session_factory.begin() as session:  # the commit point, then a kill
        name = session.get_one(User, batch.staging_id).name
        session.execute(
            update(User)
            .where(User.id == batch.staging_id)
            .values(name=name.replace(" staging ", " publishing "))
        )
    _kill(batch)
    assert recover(services.transfer._uow) == 3
    assert _counts(services, user_id) == (3, 30, 1)


def _written_by(services: Services, batch: ImportBatch, owner: RunOwner) -> None:
    """Make ``batch`` look written by ``owner``."""
    with services.store.session_factory.begin() as session:
        user = session.get_one(User, batch.staging_id)
        user.name = f"{user.name.rsplit(' ', 1)[0]} {owner}"  # the writer ends the name


def test_a_batch_killed_before_its_commit_point_is_deleted_once_its_writer_is_gone(
    services: Services, user_id: int
) -> None:
    batch = _staged_batch(services, user_id, 2, 700)
    _kill(batch)
    uow = services.transfer._uow
    _written_by(services, batch, dataclasses.replace(this_process(), token="another"))
    recover(uow)  # another live process of this pid and start: it may still be writing
    assert _counts(services, user_id) == (0, 0, 2)
    _written_by(services, batch, dataclasses.replace(this_process(), started="1"))
    recover(uow)  # this pid, started earlier: that process is gone
    assert _counts(services, user_id) == (0, 0, 1)
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_batch_this_process_left_is_cleared_by_its_next_batch(
    services: Services, user_id: int
) -> None:
    batch = _staged_batch(services, user_id, 1, 50)
    _kill(batch)  # its clean-up failed (a full disk): this process imports again
    uow = services.transfer._uow
    with ImportBatch(uow, user_id) as again:
        staged = again.stage_thread({"title": "next", "imported_from": "test:next"})
        add_messages(services.store, staged, again.staging_id, 5)
        (record,) = again.publish()
    assert record.title == "next"
    assert _counts(services, user_id) == (1, 5, 1)


def test_a_batch_of_another_host_is_deleted_only_when_a_day_old(
    services: Services, user_id: int
) -> None:
    batch = _staged_batch(services, user_id, 1, 5)
    _kill(batch)
    uow = services.transfer._uow
    elsewhere = dataclasses.replace(this_process(), host="other-desktop")
    with services.store.session_factory.begin() as session:
        user = session.get_one(User, batch.staging_id)
        user.name = user.name.replace(str(this_process()), str(elsewhere))
    recover(uow)
    assert _counts(services, user_id)[2] == 2
    with services.store.session_factory.begin() as session:
        session.get_one(User, batch.staging_id).created_at = utcnow() - timedelta(hours=25)
    recover(uow)
    assert _counts(services, user_id)[2] == 1


def test_an_error_while_staging_deletes_what_was_staged(services: Services, user_id: int) -> None:
    uow = services.transfer._uow
    try:
        with ImportBatch(uow, user_id) as batch:
            staged = batch.stage_thread({"title": "half"})
            add_messages(services.store, staged, batch.staging_id, 600)
            raise RuntimeError("the disk is full")
    except RuntimeError:
        pass
    assert _counts(services, user_id) == (0, 0, 1)


def test_several_files_import_as_one_batch_and_files_seen_before_are_skipped(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    first, second = write_export(tmp_path / "a.json", 10), write_export(tmp_path / "b.json", 30)

    def source(path: Path) -> tuple[Callable[[], IO[bytes]], int]:
        return (lambda: path.open("rb")), path.stat().st_size

    services.transfer.import_file(user_id, first)
    results = services.transfer.import_sources(user_id, [source(first), source(second)])
    assert [r.messages for r in results] == [30]
    assert _counts(services, user_id) == (2, 40, 1)
    with pytest.raises(AlreadyImportedError, match="and 1 more chats of this file are already"):
        services.transfer.import_sources(user_id, [source(first), source(second)])
    again = services.transfer.import_sources(user_id, [source(first), source(second)], again=True)
    assert [r.messages for r in again] == [10, 30]
    assert _counts(services, user_id) == (4, 80, 1)


def test_a_bad_file_among_several_imports_none_of_them(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    good = write_export(tmp_path / "good.json", 10)
    bad = tmp_path / "bad.json"
    bad.write_bytes(good.read_bytes()[:-40])
    sources = [((lambda p=p: p.open("rb")), p.stat().st_size) for p in (good, bad)]
    with pytest.raises(TransferError, match="not valid JSON"):
        services.transfer.import_sources(user_id, sources)
    assert _counts(services, user_id) == (0, 0, 1)
