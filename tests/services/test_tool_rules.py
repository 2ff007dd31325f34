"""A chat's tool rules: kept with the chat, per chat, gone with it (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.errors import PermissionDeniedError, ValidationError
from chatdesk.services.events import ChangeRecorder
from chatdesk.store.models import ThreadToolRule
from chatdesk.vocabulary import ToolRule


def test_rules_belong_to_one_chat_and_are_read_back(services: Services, user_id: int) -> None:
    chat = services.threads.create(user_id, "a").id
    other = services.threads.create(user_id, "b").id
    services.tool_rules.set_rule(user_id, chat, "time/get_current_time", ToolRule.APPROVED, True)
    services.tool_rules.set_rule(user_id, chat, "files", ToolRule.DISABLED, True)

    fresh = Services(services.store)  # nothing cached: what the database holds
    rules = fresh.tool_rules.rules(user_id, chat)
    assert rules.approved == {"time/get_current_time"}
    assert rules.disabled == {"files"}
    assert fresh.tool_rules.rules(user_id, other).approved == frozenset()

    fresh.tool_rules.set_rule(user_id, chat, "time/get_current_time", ToolRule.APPROVED, False)
    assert fresh.tool_rules.rules(user_id, chat).approved == frozenset()


def test_a_change_is_published_once_and_a_repeat_publishes_nothing(
    services: Services, user_id: int
) -> None:
    chat = services.threads.create(user_id, "a").id
    recorder = ChangeRecorder()
    services.bus.subscribe(recorder)
    services.tool_rules.set_rule(user_id, chat, "srv", ToolRule.DISABLED, True)
    services.tool_rules.set_rule(user_id, chat, "srv", ToolRule.DISABLED, True)
    assert len(recorder.changes) == 1
    assert recorder.changes[0].fields["tool_rules"] == {
        "tool": "srv",
        "rule": "disabled",
        "on": True,
    }
    assert recorder.changes[0].record.id == chat


def test_rules_go_with_their_chat(services: Services, user_id: int) -> None:
    chat = services.threads.create(user_id, "a").id
    services.tool_rules.set_rule(user_id, chat, "srv/tool", ToolRule.APPROVED, True)
    services.threads.delete(user_id, chat)
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ThreadToolRule)) == 0


@pytest.mark.parametrize("bad", ["", "/tool", "a/b/c", "has space", "x" * 301])
def test_a_bad_tool_name_is_refused(services: Services, user_id: int, bad: str) -> None:
    chat = services.threads.create(user_id, "a").id
    with pytest.raises(ValidationError):
        services.tool_rules.set_rule(user_id, chat, bad, ToolRule.APPROVED, True)


def test_another_users_chat_is_off_limits(services: Services, user_id: int) -> None:
    chat = services.threads.create(user_id, "a").id
    stranger = services.users.ensure("stranger")
    with pytest.raises(PermissionDeniedError):
        services.tool_rules.set_rule(stranger, chat, "srv", ToolRule.DISABLED, True)
    with pytest.raises(PermissionDeniedError):
        services.tool_rules.rules(stranger, chat)
