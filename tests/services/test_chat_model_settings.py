"""A chat's own model settings: stored per chat, checked, published, carried along
(branch, one-chat JSON, archive) and refused when hostile (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from chatdesk.model_params import ModelParams
from chatdesk.services import Services
from chatdesk.services.errors import NotFoundError, PermissionDeniedError, StorageError
from chatdesk.services.events import ChangeRecorder
from chatdesk.services.transfer import TransferError
from chatdesk.store.connection import create_store_engine
from chatdesk.store.migrate import Store, downgrade, open_store, upgrade

SET = ModelParams(
    temperature=0.3, top_p=0.9, max_tokens=256, context_tokens=1500, reasoning_effort="high"
)


def test_settings_belong_to_one_chat_and_read_back_from_the_database(
    services: Services, user_id: int
) -> None:
    chat = services.threads.create(user_id, "a").id
    other = services.threads.create(user_id, "b").id
    assert services.chat_model_settings.get(user_id, chat) == ModelParams()
    services.chat_model_settings.set(user_id, chat, SET)

    fresh = Services(services.store)  # nothing cached: what the database holds
    assert fresh.chat_model_settings.get(user_id, chat) == SET
    assert fresh.chat_model_settings.get(user_id, other) == ModelParams()
    fresh.chat_model_settings.set(user_id, chat, ModelParams(temperature=1.5))
    assert fresh.chat_model_settings.get(user_id, chat) == ModelParams(temperature=1.5)
    fresh.chat_model_settings.set(user_id, chat, ModelParams())  # reset all
    with services.store.session_factory() as session:
        stored = session.execute(
            text("SELECT model_settings FROM threads WHERE id = :id"), {"id": chat}
        ).scalar()
    assert stored is None


def test_a_change_is_published_once_and_does_not_move_the_chat(
    services: Services, user_id: int
) -> None:
    chat = services.threads.create(user_id, "a")
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    services.chat_model_settings.set(user_id, chat.id, SET)
    services.chat_model_settings.set(user_id, chat.id, SET)
    assert len(recorder.changes) == 1
    assert recorder.changes[0].fields["model_settings"] == SET.to_dict()
    assert services.threads.get(user_id, chat.id).updated_at == chat.updated_at


def test_another_persons_chat_is_neither_read_nor_written(services: Services, user_id: int) -> None:
    chat = services.threads.create(user_id, "a").id
    stranger = services.users.ensure("stranger")
    with pytest.raises(PermissionDeniedError):
        services.chat_model_settings.get(stranger, chat)
    with pytest.raises(PermissionDeniedError):
        services.chat_model_settings.set(stranger, chat, SET)
    with pytest.raises(NotFoundError):
        services.chat_model_settings.get(user_id, chat + 1000)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", math.nan),
        ("temperature", math.inf),
        ("temperature", -0.1),
        ("temperature", 2.01),
        ("temperature", True),
        ("temperature", "0.5"),
        ("top_p", 1.5),
        ("top_p", -math.inf),
        ("max_tokens", 0),
        ("max_tokens", 10**12),
        ("max_tokens", 1.5),
        ("context_tokens", -1),
        ("context_tokens", 10**9),
        ("reasoning_effort", "maximum"),
    ],
)
def test_hostile_values_never_make_settings(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        ModelParams.from_dict({field: value})


def test_a_locked_database_shows_the_usual_error_and_loses_nothing(
    services: Services, user_id: int, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the lock is SQLite's")
    chat = services.threads.create(user_id, "a").id
    services.chat_model_settings.set(user_id, chat, ModelParams(temperature=0.7))
    locker = create_engine(db_url)
    try:
        with locker.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            with pytest.raises(StorageError):
                services.chat_model_settings.set(user_id, chat, SET)
            connection.exec_driver_sql("ROLLBACK")
    finally:
        locker.dispose()
    assert services.chat_model_settings.get(user_id, chat) == ModelParams(temperature=0.7)


def test_a_value_broken_by_hand_in_the_database_reads_as_the_default(
    services: Services, user_id: int
) -> None:
    thread = services.threads.create(user_id, "Broken")
    with services.store.session_factory() as session, session.begin():
        session.execute(
            text("UPDATE threads SET model_settings = :v WHERE id = :id"),
            {"v": '{"temperature": "hot", "top_p": 7}', "id": thread.id},
        )
    assert services.chat_model_settings.get(user_id, thread.id) == ModelParams()


def test_a_branch_keeps_the_chats_settings(services: Services, user_id: int) -> None:
    chat = services.threads.create(user_id, "a").id
    sent = services.messages.send(user_id, chat, "hello", triggers_execution=False)
    services.chat_model_settings.set(user_id, chat, SET)
    copy = services.branches.branch(user_id, sent.message.id)
    assert services.chat_model_settings.get(user_id, copy.id) == SET


def _other_store(tmp_path: Path) -> tuple[Services, int, Store]:
    store = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    other = Services(store, attachments_dir=tmp_path / "other-files")
    return other, other.users.ensure(), store


def test_a_one_chat_json_and_an_archive_carry_the_settings_back(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    chat = services.threads.create(user_id, "Tuned").id
    services.messages.send(user_id, chat, "hi", triggers_execution=False)
    services.chat_model_settings.set(user_id, chat, SET)
    plain = services.threads.create(user_id, "Plain").id
    services.messages.send(user_id, plain, "hi", triggers_execution=False)
    services.transfer.export_json(user_id, chat, tmp_path / "chat.json")
    services.transfer.export_archive(user_id, tmp_path / "all.zip", as_zip=True)
    head = json.loads((tmp_path / "chat.json").read_text())
    assert head["thread"]["model_settings"] == SET.to_dict()

    other, me, store = _other_store(tmp_path)
    try:
        one = other.transfer.import_file(me, tmp_path / "chat.json")
        assert other.chat_model_settings.get(me, one.thread.id) == SET
        many = other.transfer.import_archive(me, tmp_path / "all.zip")
        by_title = {t.title.split(" (")[0]: t.id for t in many.threads}  # "Tuned (2)"
        assert other.chat_model_settings.get(me, by_title["Tuned"]) == SET
        assert other.chat_model_settings.get(me, by_title["Plain"]) == ModelParams()
    finally:
        store.close()


def test_a_file_with_hostile_settings_is_refused_whole(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    chat = services.threads.create(user_id, "Tuned").id
    services.messages.send(user_id, chat, "hi", triggers_execution=False)
    services.transfer.export_json(user_id, chat, tmp_path / "chat.json")
    data = json.loads((tmp_path / "chat.json").read_text())
    before = len(services.threads.list(user_id))
    for hostile in ({"temperature": 1e308}, {"top_p": "high"}, {"seed": 1}, [0.5]):
        data["thread"]["model_settings"] = hostile
        with pytest.raises(TransferError, match=r"thread\.model_settings"):
            services.transfer.import_json(user_id, json.dumps(data))
    assert len(services.threads.list(user_id)) == before


def test_0012_adds_the_column_and_down_drops_only_it(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    services = Services(store, attachments_dir=tmp_path / "files")
    me = services.users.ensure()
    thread = services.threads.create(me, "kept")
    services.chat_model_settings.set(me, thread.id, SET)
    store.close()
    engine = create_store_engine(db_url)
    try:
        downgrade(engine, "0011")
        assert "model_settings" not in {c["name"] for c in inspect(engine).get_columns("threads")}
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM threads")).scalar() == 1
        upgrade(engine, "0012")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT model_settings FROM threads")).scalar() is None
    finally:
        engine.dispose()
