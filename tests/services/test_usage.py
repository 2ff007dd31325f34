"""What the chat header reads (``services.usage``) on both databases: a chat's tokens by
model over every run and branch, the size of the next run's history, and a page's
replies carrying their run's tokens."""

from __future__ import annotations

import pytest

from chatdesk.services import Services
from chatdesk.services.errors import NotFoundError, PermissionDeniedError
from chatdesk.services.executions import Tokens
from chatdesk.services.records import RunTokens
from chatdesk.services.usage import HistorySize, ModelTotals
from chatdesk.vocabulary import ExecutionStatus, Role


def _run(
    services: Services, user: int, thread: int, text: str, model: str | None, tokens: Tokens | None
) -> int:
    sent = services.messages.send(user, thread, text)
    assert sent.execution is not None
    start = services.executions.start(user, sent.execution.id)
    services.executions.finish(
        user, sent.execution.id, ExecutionStatus.COMPLETED, text="ok", model=model, tokens=tokens
    )
    return start.reply.id


def test_totals_by_model_and_the_next_history(services: Services, user_id: int) -> None:
    usage = services.usage
    thread = services.threads.create(user_id, "Costs")
    assert usage.totals(user_id, thread.id) == []
    assert usage.history_size(user_id, thread.id) == HistorySize(0, 0)
    first = _run(services, user_id, thread.id, "one", "openai/gpt-4o", Tokens(100, 10, 110))
    _run(services, user_id, thread.id, "two", "openai/gpt-4o", Tokens(200, 20, 220))
    _run(services, user_id, thread.id, "three", "ollama/llama3.2", Tokens(5, 1, 6))
    _run(services, user_id, thread.id, "four", None, None)  # reported nothing
    page = services.messages.list(user_id, thread.id).messages
    assert [m.run_tokens for m in page if m.role is Role.ASSISTANT] == [
        RunTokens("openai/gpt-4o", 100, 10),
        RunTokens("openai/gpt-4o", 200, 20),
        RunTokens("ollama/llama3.2", 5, 1),
        RunTokens(None, None, None),
    ]
    assert all(m.run_tokens is None for m in page if m.role is Role.USER)
    services.messages.regenerate(user_id, first)  # another branch's run costs too
    totals = sorted(usage.totals(user_id, thread.id), key=lambda t: t.model or "")
    assert totals[1:] == [
        ModelTotals("ollama/llama3.2", 5, 1, 1),
        ModelTotals("openai/gpt-4o", 300, 30, 2),
    ]
    assert totals[0].model is None and totals[0].prompt_tokens == 0

    # the path shown is the new version of "one", still waiting: a run is told only
    # completed messages
    assert usage.history_size(user_id, thread.id) == HistorySize(0, 0)
    services.messages.send(user_id, thread.id, "  spaced  ", triggers_execution=False)
    services.messages.send(user_id, thread.id, "more", triggers_execution=False)
    size = usage.history_size(user_id, thread.id)
    assert size == HistorySize(len("User: spaced") + 2 + len("User: more"), 2)


def test_another_person_s_chat_is_not_read(services: Services, user_id: int) -> None:
    other = services.users.ensure("someone else")
    thread = services.threads.create(other, "Theirs")
    with pytest.raises((NotFoundError, PermissionDeniedError)):
        services.usage.totals(user_id, thread.id)
    with pytest.raises((NotFoundError, PermissionDeniedError)):
        services.usage.history_size(user_id, thread.id)
