"""A chat's knowledge (chatdesk.services.knowledge): documents kept for every reply of a
chat, private to its person, freed with the chat; and migration 0011 that adds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from chatdesk.services import Services
from chatdesk.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from chatdesk.services.events import ChangeRecorder, Entity
from chatdesk.services.knowledge import KNOWLEDGE, MAX_KNOWLEDGE_FILES
from chatdesk.services.records import AttachmentRecord
from chatdesk.store.connection import create_store_engine
from chatdesk.store.migrate import downgrade, open_store, upgrade
from tests.support.attached import pdf, png


def _doc(
    services: Services, user: int, folder: Path, name: str, words: str = ""
) -> AttachmentRecord:
    folder.mkdir(exist_ok=True)
    path = folder / name
    if name.endswith(".pdf"):
        pdf(path, words or name)
    else:
        path.write_text(words or f"notes of {name}\n", encoding="utf-8")
    return services.attachments.add(user, path)


def test_a_chat_keeps_documents_in_order_once_each_and_says_so_on_the_bus(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread = services.threads.create(user_id, "Research")
    first = _doc(services, user_id, tmp_path, "report.pdf", "Quarterly figures")
    second = _doc(services, user_id, tmp_path, "notes.md")
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    kept = services.knowledge.add(user_id, thread.id, [first, second])
    assert [f.file_name for f in kept] == ["report.pdf", "notes.md"]
    again = services.knowledge.add(user_id, thread.id, [first])
    assert [f.file_name for f in again] == ["report.pdf", "notes.md"]
    assert services.knowledge.list(user_id, thread.id) == kept
    changed = [c for c in recorder.changes if c.entity is Entity.THREAD and KNOWLEDGE in c.fields]
    assert [c.fields[KNOWLEDGE] for c in changed] == [2]
    # kept by the chat: the file is usable although no message carries it
    assert services.attachments.path_of(user_id, kept[0].id).is_file()


def test_removing_a_document_or_deleting_the_chat_frees_what_nothing_else_keeps(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    chat = services.threads.create(user_id, "One")
    other = services.threads.create(user_id, "Two")
    shared = _doc(services, user_id, tmp_path, "shared.txt")
    alone = _doc(services, user_id, tmp_path, "alone.txt")
    services.knowledge.add(user_id, chat.id, [shared, alone])
    services.knowledge.add(user_id, other.id, [shared])
    alone_path = services.attachments.path_of(user_id, alone.id)
    shared_path = services.attachments.path_of(user_id, shared.id)

    services.knowledge.remove(user_id, chat.id, alone.id)
    assert not alone_path.exists()
    with pytest.raises(NotFoundError):
        services.knowledge.remove(user_id, chat.id, alone.id)
    services.threads.delete(user_id, chat.id)
    assert shared_path.is_file()  # the other chat still keeps it
    services.threads.delete(user_id, other.id)
    assert not shared_path.exists()
    assert services.attachments.sweep().files == 0  # nothing was left behind


def test_another_person_can_neither_see_nor_take_a_chats_knowledge(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread = services.threads.create(user_id, "Mine")
    document = _doc(services, user_id, tmp_path, "private.txt")
    services.knowledge.add(user_id, thread.id, [document])
    stranger = services.users.ensure("mallory")
    theirs = services.threads.create(stranger, "Theirs")
    with pytest.raises(PermissionDeniedError):
        services.knowledge.list(stranger, thread.id)
    with pytest.raises(PermissionDeniedError):
        services.knowledge.add(stranger, theirs.id, [document])
    with pytest.raises(PermissionDeniedError):
        services.attachments.path_of(stranger, document.id)


def test_images_and_more_than_the_limit_are_refused_and_nothing_is_kept(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread = services.threads.create(user_id, "Limits")
    picture = services.attachments.add(user_id, png(tmp_path / "photo.png"))
    with pytest.raises(ValidationError, match="documents"):
        services.knowledge.add(user_id, thread.id, [picture])
    many = [
        _doc(services, user_id, tmp_path, f"d{n}.txt", f"document {n}\n")
        for n in range(MAX_KNOWLEDGE_FILES + 1)
    ]
    with pytest.raises(ValidationError, match=str(MAX_KNOWLEDGE_FILES)):
        services.knowledge.add(user_id, thread.id, many)
    assert services.knowledge.list(user_id, thread.id) == ()


def test_0011_adds_thread_knowledge_and_down_drops_only_it(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    services = Services(store, attachments_dir=tmp_path / "files")
    me = services.users.ensure()
    thread = services.threads.create(me, "kept")
    services.messages.send(me, thread.id, "kept too")
    document = _doc(services, me, tmp_path / "in", "kept.txt")
    services.knowledge.add(me, thread.id, [document])
    store.close()
    engine = create_store_engine(db_url)
    try:
        downgrade(engine, "0010")
        assert "thread_knowledge" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 1
        upgrade(engine, "0011")
        assert "thread_knowledge" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_one_chat_json_carries_its_knowledge_and_brings_it_back(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    thread = services.threads.create(user_id, "Carried")
    services.messages.send(user_id, thread.id, "see the guide", triggers_execution=False)
    guide = _doc(services, user_id, tmp_path / "in", "guide.txt", "Trams run until 23:00.\n")
    services.knowledge.add(user_id, thread.id, [guide])
    services.transfer.export_json(user_id, thread.id, tmp_path / "chat.json")

    elsewhere = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        other = Services(elsewhere, attachments_dir=tmp_path / "other-files")
        me = other.users.ensure()
        result = other.transfer.import_file(me, tmp_path / "chat.json")
        kept = other.knowledge.list(me, result.thread.id)
        assert [f.file_name for f in kept] == ["guide.txt"]
        assert other.attachments.path_of(me, kept[0].id).read_text() == "Trams run until 23:00.\n"
    finally:
        elsewhere.close()
