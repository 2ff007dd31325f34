"""The app as two people on one PostgreSQL database: each is their login, and each sees,
searches, imports and recovers only their own (row-level security under the services).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from chatdesk.services import Services
from chatdesk.services.errors import NotFoundError, PermissionDeniedError
from chatdesk.services.run_owner import RunOwner
from chatdesk.store.migrate import Store, open_store
from chatdesk.store.models import Execution, User
from chatdesk.vocabulary import ExecutionStatus
from tests.support.attached import png
from tests.support.team_logins import Team

pytestmark = pytest.mark.postgres

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


@dataclasses.dataclass
class Person:
    login: str
    store: Store
    services: Services
    user: int
    files: Path


@pytest.fixture(scope="module")
def people(team: Team, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Person]]:
    opened: dict[str, Person] = {}
    try:
        for key, login in (("a", team.alice), ("b", team.bob)):
            store = open_store(team.url(login))
            files = tmp_path_factory.mktemp(key)
            services = Services(store, attachments_dir=files / "attachments")
            opened[key] = Person(login, store, services, services.users.ensure(), files)
        yield opened
    finally:
        for person in opened.values():
            person.store.close()


def test_the_user_is_the_login(people: dict[str, Person]) -> None:
    for person in people.values():
        assert person.services.users.current_name() == person.login
        assert person.services.users.find() == person.user
        with person.store.session_factory() as session:
            assert session.scalars(select(User.name)).all() == [person.login]


def test_each_sees_only_their_own_chats(people: dict[str, Person]) -> None:
    a, b = people["a"], people["b"]
    mine = a.services.threads.create(a.user, "Alice's plans")
    theirs = b.services.threads.create(b.user, "Bob's plans")
    assert mine.id in {t.id for t in a.services.threads.list(a.user)}
    assert theirs.id not in {t.id for t in a.services.threads.list(a.user)}
    assert mine.id not in {t.id for t in b.services.threads.list(b.user)}
    # even asked with the other's id, the database answers nothing
    assert b.services.threads.list(a.user) == []
    assert b.services.threads.count(a.user) == 0


def test_search_as_bob_never_returns_alices_messages(people: dict[str, Person]) -> None:
    a, b = people["a"], people["b"]
    for person, title in ((a, "A zebra"), (b, "B zebra")):
        thread = person.services.threads.create(person.user, title)
        person.services.messages.send(
            person.user, thread.id, "the zebra crossing", triggers_execution=False
        )
    hits = b.services.search.search(b.user, "zebra")
    assert {hit.thread_title for hit in hits} == {"B zebra"}
    assert b.services.search.search(a.user, "zebra") == []
    assert {hit.thread_title for hit in a.services.search.search(a.user, "zebra")} == {"A zebra"}


def test_an_import_as_bob_lands_as_bobs(people: dict[str, Person], tmp_path: Path) -> None:
    a, b = people["a"], people["b"]
    thread = a.services.threads.create(a.user, "Exported by Alice")
    a.services.messages.send(a.user, thread.id, "hand this over", triggers_execution=False)
    exported = tmp_path / "chat.json"
    a.services.transfer.export_json(a.user, thread.id, exported)
    before = {t.id for t in a.services.threads.list(a.user)}

    result = b.services.transfer.import_file(b.user, exported)

    assert result.thread.user_id == b.user
    assert result.thread.id in {t.id for t in b.services.threads.list(b.user)}
    assert {t.id for t in a.services.threads.list(a.user)} == before
    with b.store.session_factory() as session:  # no staging user left behind
        assert session.scalars(select(User.name)).all() == [b.login]


def _gone_desktop() -> RunOwner:
    return RunOwner(host="gone-desktop", boot_id="b00t", pid=4242, started="1", token="gone")


def test_recovery_as_bob_never_touches_alices_runs(people: dict[str, Person]) -> None:
    a, b = people["a"], people["b"]
    crashed = Services(a.store, owner=_gone_desktop(), attachments_dir=a.files / "attachments")
    thread = crashed.threads.create(a.user, "Interrupted")
    sent = crashed.messages.send(a.user, thread.id, "question")
    assert sent.execution is not None
    crashed.executions.start(a.user, sent.execution.id)
    with a.store.session_factory.begin() as session:
        session.execute(
            update(Execution)
            .where(Execution.id == sent.execution.id)
            .values(lease_expires_at=LONG_AGO)
        )

    assert b.services.executions.recover_interrupted() == 0
    with a.store.session_factory() as session:
        row = session.get(Execution, sent.execution.id)
        assert row is not None and row.status is ExecutionStatus.RUNNING

    assert a.services.executions.recover_interrupted() == 1


def test_a_file_both_attached_stays_while_either_keeps_it(people: dict[str, Person]) -> None:
    """Attachments are shared by content: Alice deleting her message frees nothing Bob
    still uses (she cannot see his link; the database's policy does)."""
    a, b = people["a"], people["b"]
    sent = {}
    for person in (a, b):
        photo = person.services.attachments.add(person.user, png(person.files / "same.png"))
        thread = person.services.threads.create(person.user, "Photo")
        sent[person.login] = (
            person.services.messages.send(
                person.user, thread.id, "look", triggers_execution=False, attachments=[photo]
            ).message.id,
            photo.id,
        )
    (a_message, a_photo), (b_message, b_photo) = sent[a.login], sent[b.login]
    assert a_photo == b_photo  # one row, shared by content

    a.services.messages.delete(a.user, a_message)

    files = b.services.attachments.for_message(b.user, b_message)
    assert [file.id for file in files] == [b_photo]
    with b.store.session_factory() as session:
        assert (
            session.scalar(text("SELECT count(*) FROM attachments WHERE id = :id"), {"id": b_photo})
            == 1
        )
    b.services.messages.delete(b.user, b_message)
    b.services.attachments.sweep(hold_s=0)
    with b.store.session_factory() as session:
        assert (
            session.scalar(text("SELECT count(*) FROM attachments WHERE id = :id"), {"id": b_photo})
            == 0
        )


def test_a_write_for_another_person_is_refused_with_a_sentence(people: dict[str, Person]) -> None:
    """The services never aim at another's rows; if one did (a stale id, tampering), the
    database's refusal reaches the person as a sentence, not a traceback."""
    a, b = people["a"], people["b"]
    with pytest.raises(PermissionDeniedError, match="refused to write a chat that is not yours"):
        b.services.threads.create(a.user, "Planted in Alice's list")
    mine = a.services.threads.create(a.user, "Alice only")
    with pytest.raises(NotFoundError):  # invisible: as if it did not exist
        b.services.messages.send(b.user, mine.id, "hello?", triggers_execution=False)
    assert "Planted in Alice's list" not in {t.title for t in a.services.threads.list(a.user)}


def test_the_app_says_when_privacy_does_not_apply(team: Team, people: dict[str, Person]) -> None:
    assert people["a"].services.users.privacy_skipped() is None
    owner = open_store(team.owner_url)
    try:
        told = Services(owner, attachments_dir=people["a"].files).users.privacy_skipped()
    finally:
        owner.close()
    assert told is not None and "superuser" in told


def test_another_apps_export_imported_as_bob_lands_as_bobs(people: dict[str, Person]) -> None:
    """The foreign importer takes message ids ahead from the sequence (``USAGE`` is enough)
    and stages under Bob's hidden user: Alice sees none of it, at any point."""
    a, b = people["a"], people["b"]
    alice_before = {t.id for t in a.services.threads.list(a.user)}
    summary = b.services.imports.import_path(b.user, FIXTURES / "claude-conversations.json")
    assert summary.chats and all(t.user_id == b.user for t in summary.chats)
    listed = {t.id for t in b.services.threads.list(b.user)}
    assert {t.id for t in summary.chats} <= listed
    assert {t.id for t in a.services.threads.list(a.user)} == alice_before
