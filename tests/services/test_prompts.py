"""The prompt library's service on a real database: rules, scoping, one transaction each."""

from __future__ import annotations

import pytest

from chatdesk.services import Services
from chatdesk.services.errors import NotFoundError, ValidationError
from chatdesk.services.events import ChangeKind, ChangeRecorder, Entity
from chatdesk.services.prompts import MAX_NAME_CHARS, MAX_TEXT_CHARS


def test_create_list_rename_edit_delete_each_published_once(services: Services) -> None:
    me = services.users.ensure()
    heard = ChangeRecorder()
    services.bus.subscribe(heard)
    summary = services.prompts.create(me, "  Summary\tof   things ", "Summarise {{text}}")
    assert summary.name == "Summary of things"
    services.prompts.create(me, "ask", "Ask me {{n|3}} questions")
    assert [p.name for p in services.prompts.list(me)] == ["ask", "Summary of things"]

    renamed = services.prompts.rename(me, summary.id, "Brief")
    edited = services.prompts.edit(me, summary.id, "Brief: {{text}}")
    assert (renamed.name, edited.text) == ("Brief", "Brief: {{text}}")
    assert services.prompts.get(me, summary.id).text == "Brief: {{text}}"
    services.prompts.edit(me, summary.id, "Brief: {{text}}")  # unchanged: nothing published
    services.prompts.delete(me, summary.id)
    assert [p.name for p in services.prompts.list(me)] == ["ask"]

    assert [(c.entity, c.kind) for c in heard.changes] == [
        (Entity.PROMPT, ChangeKind.CREATED),
        (Entity.PROMPT, ChangeKind.CREATED),
        (Entity.PROMPT, ChangeKind.UPDATED),
        (Entity.PROMPT, ChangeKind.UPDATED),
        (Entity.PROMPT, ChangeKind.DELETED),
    ]
    assert heard.changes[2].fields == {"name": "Brief"}
    assert all(c.user_id == me and c.thread_id == 0 for c in heard.changes)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("", "text", "needs a name"),
        ("\u202e\x00 ", "text", "needs a name"),
        ("n" * (MAX_NAME_CHARS + 1), "text", "at most 100 characters"),
        ("name", " \n\t", "needs some text"),
        ("name", "x" * (MAX_TEXT_CHARS + 1), "at most 20,000 characters"),
        ("name", "".join(f"{{{{v{i}}}}}" for i in range(21)), "at most 20 variables"),
    ],
)
def test_invalid_prompts_are_refused_with_a_clear_message(
    services: Services, name: str, text: str, message: str
) -> None:
    me = services.users.ensure()
    with pytest.raises(ValidationError, match=message):
        services.prompts.create(me, name, text)
    assert services.prompts.list(me) == []


def test_names_are_unique_per_person_ignoring_case(services: Services) -> None:
    me = services.users.ensure()
    other = services.users.ensure("someone else")
    first = services.prompts.create(me, "Summary", "one")
    with pytest.raises(ValidationError, match="“Summary” exists already"):
        services.prompts.create(me, "SUMMARY", "two")
    second = services.prompts.create(me, "Other", "two")
    with pytest.raises(ValidationError, match="exists already"):
        services.prompts.rename(me, second.id, "summary")
    assert services.prompts.rename(me, first.id, "summary").name == "summary"
    assert services.prompts.create(other, "Summary", "theirs").user_id == other


def test_a_person_cannot_see_or_touch_another_persons_prompt(services: Services) -> None:
    me = services.users.ensure()
    other = services.users.ensure("someone else")
    mine = services.prompts.create(me, "Mine", "secret")
    assert services.prompts.list(other) == []
    for attempt in (
        lambda: services.prompts.get(other, mine.id),
        lambda: services.prompts.rename(other, mine.id, "stolen"),
        lambda: services.prompts.edit(other, mine.id, "stolen"),
        lambda: services.prompts.delete(other, mine.id),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    assert services.prompts.get(me, mine.id).text == "secret"


def test_text_is_kept_exactly_but_storable(services: Services) -> None:
    me = services.users.ensure()
    text = "  indented\n\tRTL \u202e 日本語 🎉 lone \ud800 NUL \x00 end  "
    record = services.prompts.create(me, "odd", text)
    stored = services.prompts.get(me, record.id).text
    assert stored == "  indented\n\tRTL \u202e 日本語 🎉 lone \ufffd NUL  end  "


def test_import_adds_skips_and_refuses_in_one_transaction(services: Services) -> None:
    me = services.users.ensure()
    services.prompts.create(me, "Existing", "old")
    heard = ChangeRecorder()
    services.bus.subscribe(heard)
    outcome = services.prompts.import_prompts(
        me,
        [
            ("New", "new {{x}}"),
            ("existing", "would replace"),
            ("", "no name"),
            ("new", "same name twice in the file"),
            ("Blank", "   "),
        ],
    )
    assert outcome.added == ["New"]
    assert outcome.skipped == ["Existing".lower(), "new"]
    assert outcome.refused == [
        ("", "A prompt needs a name."),
        ("Blank", "A prompt needs some text."),
    ]
    assert {p.name: p.text for p in services.prompts.list(me)} == {
        "Existing": "old",
        "New": "new {{x}}",
    }
    assert [c.kind for c in heard.changes] == [ChangeKind.CREATED]


def test_a_name_taken_by_another_client_meanwhile_is_refused_in_words(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique key catches what the check could not see (another client's commit
    between the check and the insert): a message, and nothing half-stored."""
    me = services.users.ensure()
    services.prompts.create(me, "Summary", "first")
    monkeypatch.setattr("chatdesk.services.prompts._names", lambda *_: {})
    with pytest.raises(ValidationError, match="“Summary” was just added elsewhere"):
        services.prompts.create(me, "Summary", "second")
    with pytest.raises(ValidationError, match="import again"):
        services.prompts.import_prompts(me, [("Other", "x"), ("Summary", "y")])
    assert [(p.name, p.text) for p in services.prompts.list(me)] == [("Summary", "first")]
