"""Whatever a model sends is stored exactly, and searching it never breaks."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatdesk.services import Services
from chatdesk.store.base import ESCAPED_PREFIX

HOSTILE = [
    "NUL \x00 in the middle",
    "lone surrogates \ud800 and \udfff",
    f"{ESCAPED_PREFIX}looks escaped but is not",
    "<script>alert(1)</script><img src=http://127.0.0.1:9/x.png>",
    "![x](file:///etc/passwd) [y](javascript:alert(1))",
    "[" * 5000 + "deep" + "]" * 5000,
    "x" * 1_000_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_replies_are_stored_exactly(services: Services, user_id: int, text: str) -> None:
    thread = services.threads.create(user_id)
    reply = services.messages.add_reply(user_id, thread.id, None, text)
    assert services.messages.get(user_id, reply.id).content == text
    services.executions.save_text(user_id, reply.id, text + "!")
    assert services.messages.get(user_id, reply.id).content == text + "!"
    services.search.search(user_id, "surrogates")  # must not raise


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(alphabet=st.characters(codec=None), max_size=300))
def test_any_string_round_trips(services: Services, user_id: int, text: str) -> None:
    thread = services.threads.create(user_id)
    reply = services.messages.add_reply(user_id, thread.id, None, text)
    assert services.messages.get(user_id, reply.id).content == text
