"""Other apps' conversations become chats: their tree, times, notes and models kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatdesk.services import Services
from chatdesk.services.foreign.chat import ForeignChat, ForeignMessage, Source
from chatdesk.services.foreign_import import (
    ALREADY,
    ForeignWriter,
    ImportSummary,
    Skipped,
    import_key,
)
from chatdesk.services.import_batch import ImportBatch
from chatdesk.services.records import ThreadRecord
from chatdesk.services.transfer import TransferError
from chatdesk.vocabulary import Role

T0 = datetime(2023, 3, 14, 9, 30, tzinfo=UTC)


def _message(ref: str, parent: str | None, role: Role, text: str, minute: int) -> ForeignMessage:
    return ForeignMessage(ref, parent, role, text, T0 + timedelta(minutes=minute))


def _branchy(source_id: str | None = "conv-1") -> ForeignChat:
    """Q, two answers (the second chosen), an edited question under the first root."""
    return ForeignChat(
        source=Source.CHATGPT,
        source_id=source_id,
        title="Trip to Lisbon",
        messages=[
            _message("q1", None, Role.USER, "Where should I stay?", 0),
            _message("a1", "q1", Role.ASSISTANT, "Alfama.", 1),
            ForeignMessage(
                "a2", "q1", Role.ASSISTANT, "Baixa.", T0 + timedelta(minutes=2), model="gpt-4o"
            ),
            ForeignMessage(
                "q2",
                "a2",
                Role.USER,
                "",
                None,
                notes=("Image not included in the export: file-abc",),
            ),
            _message("a3", "q2", Role.ASSISTANT, "Nice photo.", 4),
        ],
        current_leaf="a1",
        created_at=T0,
        updated_at=T0 + timedelta(days=2),
        system_prompt="I prefer walking.",
        notes=("Canvas documents are not imported.",),
    )


def _import(
    services: Services, user_id: int, *chats: ForeignChat, again: bool = False
) -> ImportSummary:
    summary = ImportSummary(Source.CHATGPT)
    uow = services.transfer._uow
    with ImportBatch(uow, user_id) as batch:
        ForeignWriter(uow, batch, summary, again=again, step=lambda: None).write_all(chats)
        summary.chats = batch.publish()
    return summary


def _shown(services: Services, user_id: int, thread: ThreadRecord) -> list[str]:
    return [m.content for m in services.messages.list(user_id, thread.id).messages]


def test_a_tree_keeps_its_versions_its_current_path_and_its_times(
    services: Services, user_id: int
) -> None:
    summary = _import(services, user_id, _branchy())
    (thread,) = summary.chats
    assert summary.messages == 5 and thread.title == "Trip to Lisbon"
    assert thread.system_prompt == "I prefer walking."
    assert thread.created_at == T0 and thread.updated_at == T0 + timedelta(days=2)
    assert _shown(services, user_id, thread) == ["Where should I stay?", "Alfama."]
    shown = services.messages.list(user_id, thread.id).messages
    assert shown[1].version is not None and (shown[1].version.index, shown[1].version.count) == (
        1,
        2,
    )
    assert shown[0].created_at == T0 and shown[1].created_at == T0 + timedelta(minutes=1)
    assert shown[0].metadata["notes"] == ["Canvas documents are not imported."]
    assert shown[0].metadata["imported"] == "chatgpt" and shown[0].metadata["source_id"] == "q1"
    services.messages.switch_version(user_id, shown[1].id, 1)
    path = services.messages.list(user_id, thread.id).messages
    assert [m.content for m in path] == ["Where should I stay?", "Baixa.", "", "Nice photo."]
    assert path[1].metadata["model"] == "gpt-4o"
    assert path[2].metadata["notes"] == ["Image not included in the export: file-abc"]
    assert path[2].created_at == path[1].created_at  # no time of its own: its parent's


def test_a_conversation_imported_before_is_skipped_unless_asked(
    services: Services, user_id: int
) -> None:
    _import(services, user_id, _branchy())
    other = ForeignChat(
        Source.CHATGPT, "conv-2", "Other", [_message("x", None, Role.USER, "hi", 0)]
    )
    summary = _import(services, user_id, _branchy(), other)
    assert [c.title for c in summary.chats] == ["Other"]
    assert summary.skipped == [Skipped("Trip to Lisbon", ALREADY)]
    again = _import(services, user_id, _branchy(), again=True)
    assert [c.title for c in again.chats] == ["Trip to Lisbon (imported)"]


def test_a_conversation_without_an_id_is_recognised_by_its_messages() -> None:
    one, same = _branchy(source_id=None), _branchy(source_id=None)
    assert import_key(one) == import_key(same)
    changed = ForeignChat(Source.CHATGPT, None, "x", [_message("q1", None, Role.USER, "other", 0)])
    assert import_key(changed) != import_key(one)
    assert import_key(_branchy()) == "chatgpt:conv-1"


def test_titles_and_empty_conversations(services: Services, user_id: int) -> None:
    untitled = ForeignChat(
        Source.CHATGPT, "a", " \x00 ", [_message("m", None, Role.USER, "hello", 0)]
    )
    empty = ForeignChat(Source.CHATGPT, "b", "Nothing", [])
    summary = _import(services, user_id, untitled, empty)
    assert [c.title for c in summary.chats] == ["Imported chat"]
    assert summary.skipped == [Skipped("Nothing", "it has no messages")]


def test_a_too_long_message_stops_the_whole_file(services: Services, user_id: int) -> None:
    from chatdesk.services.messages import MAX_CONTENT_CHARS

    huge = ForeignChat(
        Source.CHATGPT,
        "h",
        "Huge",
        [_message("m", None, Role.USER, "x" * (MAX_CONTENT_CHARS + 1), 0)],
    )
    with pytest.raises(TransferError, match="“Huge”: a message of"):
        _import(services, user_id, _branchy(), huge)
    assert services.threads.list(user_id) == []
