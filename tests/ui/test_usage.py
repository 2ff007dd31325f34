"""Tokens and cost on the replies and in the chat header, and the context meter.

Runs are stored through the real services (SQLite file), the window is real; the last
test runs a scripted reply through the real worker and CrewAI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot
from sqlalchemy import event

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir
from chatdesk.runs.usage_costs import Fill, ReplyUsage
from chatdesk.services import Services
from chatdesk.services.executions import Tokens
from chatdesk.store.migrate import Store
from chatdesk.testing import ScriptedLLM
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.notices import NoticeKind
from chatdesk.ui.threads.usage_meter import ChatUsageMeter
from chatdesk.vocabulary import ExecutionStatus, MessageStatus, Role

MakeWindow = Callable[[], MainWindow]
RUN_TIMEOUT_MS = 120_000  # the shared worker may still be importing CrewAI


def _exchange(
    services: Services,
    user: int,
    thread_id: int,
    question: str,
    status: ExecutionStatus,
    *,
    model: str | None = None,
    tokens: Tokens | None = None,
) -> int:
    """A question and its run, ended as ``status``; the reply's id."""
    sent = services.messages.send(user, thread_id, question)
    assert sent.execution is not None
    start = services.executions.start(user, sent.execution.id)
    services.executions.finish(
        user,
        sent.execution.id,
        status,
        text=f"Answer to {question}",
        error="The model went away." if status is ExecutionStatus.FAILED else None,
        model=model,
        tokens=tokens,
    )
    return start.reply.id


def _index(window: MainWindow, message_id: int) -> QModelIndex:
    model = window.message_view.model()
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data(MessageRoles.MessageId) == message_id:
            return index
    raise AssertionError(f"message {message_id} is not shown")


def _meter(qtbot: QtBot, window: MainWindow) -> ChatUsageMeter:
    meter = window.header.usage_meter
    qtbot.waitUntil(lambda: not meter.is_reading())
    return meter


def test_replies_carry_their_run_s_tokens_and_cost_read_with_the_page(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, ui_store: Store, me: int
) -> None:
    services = ui_services
    thread = services.threads.create(me, "Costs")
    priced = _exchange(
        services, me, thread.id, "one", ExecutionStatus.COMPLETED,
        model="openai/gpt-4o-mini", tokens=Tokens(1234, 56, 1290),
    )  # fmt: skip
    unknown = _exchange(
        services, me, thread.id, "two", ExecutionStatus.COMPLETED,
        model="acme/wonder-9", tokens=Tokens(2000, 100, 2100),
    )  # fmt: skip
    local = _exchange(
        services, me, thread.id, "three", ExecutionStatus.CANCELLED,
        model="ollama/llama3.2", tokens=Tokens(300, 20, 320),
    )  # fmt: skip
    failed = _exchange(services, me, thread.id, "four", ExecutionStatus.FAILED)
    window = make_window()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    window.sidebar.select_thread(thread.id)
    event.listen(ui_store.engine, "before_cursor_execute", seen)
    try:
        window.message_model.load_thread(thread.id)  # the page read again, watched
    finally:
        event.remove(ui_store.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if "executions.prompt_tokens" in s]
    assert len(reads) == 1, reads  # one read for the page's replies, not one each

    model = window.message_view.model()
    assert b"usage" in [bytes(name.data()) for name in model.roleNames().values()]
    usage = _index(window, priced).data(MessageRoles.Usage)
    assert isinstance(usage, ReplyUsage)
    assert (usage.tokens_in, usage.tokens_out, usage.model) == (1234, 56, "openai/gpt-4o-mini")
    assert usage.cost == pytest.approx((1234 * 0.15 + 56 * 0.6) / 1e6)
    assert _index(window, unknown).data(MessageRoles.Usage).cost is None
    assert _index(window, local).data(MessageRoles.Usage).cost == 0.0
    assert _index(window, failed).data(MessageRoles.Usage) is None  # no tokens reported
    question = _index(window, priced).siblingAtRow(_index(window, priced).row() - 1)
    assert question.data(MessageRoles.Role) == Role.USER.value
    assert question.data(MessageRoles.Usage) is None

    delegate = window.message_view.delegate
    assert delegate.status_line(_index(window, priced)).text.endswith(
        " · 1,234 in · 56 out · $0.0002"
    )
    assert delegate.status_line(_index(window, unknown)).text.endswith(" · 2,000 in · 100 out")
    assert delegate.status_line(_index(window, local)).text == "Stopped · 300 in · 20 out · $0"
    assert "in ·" not in delegate.status_line(_index(window, failed)).text

    meter = _meter(qtbot, window)
    assert (meter.totals.tokens_in, meter.totals.tokens_out) == (3534, 176)
    assert meter.totals.unpriced == 2100
    assert meter.label.text() == "3,710 tokens · $0.0002"
    assert meter.label.forms == ("3,710 tokens · $0.0002", "3,710 · $0.0002", "$0.0002")
    window.resize(1400, 700)  # room for the whole words beside the meter
    qtbot.waitUntil(lambda: meter.label.shown_text() == "3,710 tokens · $0.0002")
    window.resize(1150, 700)  # short of room: a shorter form, never a cut number
    qtbot.waitUntil(lambda: meter.label.shown_text() in ("3,710 · $0.0002", "$0.0002"))
    window.resize(700, 700)  # a narrow header: the meter alone, the numbers in its tooltip
    qtbot.waitUntil(lambda: window.header.compact and not meter.label.isVisible())
    assert meter.bar.isVisible() and meter.bar.width() < 44
    assert "3,534 tokens in, 176 out" in meter.toolTip()
    assert "2,100 tokens of models of unknown price" in meter.toolTip()


def test_the_meter_warns_before_the_history_is_trimmed(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long")
    ui_services.messages.send(me, thread.id, "short", triggers_execution=False)
    window = make_window()
    window.sidebar.select_thread(thread.id)
    meter = _meter(qtbot, window)
    assert meter.state is Fill.OK and meter.bar.isVisible()
    assert meter.fill is not None and meter.fill.tokens == 3  # "User: short": 11 chars

    # 9,800 characters more: about 2,460 of the budget's 3,000 tokens, past 80%
    ui_services.messages.send(me, thread.id, "word " * 1960, triggers_execution=False)
    qtbot.waitUntil(lambda: meter.state is Fill.WARNING)
    assert meter.bar.state is Fill.WARNING
    assert "older messages will soon be left out" in meter.toolTip()

    ui_services.messages.send(me, thread.id, "more " * 600, triggers_execution=False)
    qtbot.waitUntil(lambda: meter.state is Fill.TRIMMED)
    assert meter.fill is not None and meter.fill.fraction == 1.0
    assert "Older messages are left out." in meter.toolTip()

    other = ui_services.threads.create(me, "Empty")
    window.sidebar.select_thread(other.id)
    qtbot.waitUntil(lambda: meter.fill is not None and meter.state is Fill.OK)
    assert meter.label.text() == "0 tokens"


def test_a_broken_price_file_is_told_once_and_the_shipped_prices_stay(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    (data_dir() / "prices.json").write_text('{"models": [{"pattern": 5}]}', encoding="utf-8")
    thread = ui_services.threads.create(me, "Priced")
    reply = _exchange(
        ui_services, me, thread.id, "q", ExecutionStatus.COMPLETED,
        model="openai/gpt-4o", tokens=Tokens(1_000_000, 0, 1_000_000),
    )  # fmt: skip
    window = make_window()
    told: list[tuple[str, object]] = []
    window.notices.shown.connect(lambda text, kind: told.append((text, kind)))
    window.sidebar.select_thread(thread.id)
    meter = _meter(qtbot, window)
    assert len(told) == 1 and told[0][1] is NoticeKind.ERROR
    assert 'model 1 needs a "pattern"' in told[0][0] and "shipped prices" in told[0][0]
    assert meter.totals.cost == pytest.approx(2.5)
    assert _index(window, reply).data(MessageRoles.Usage).cost == pytest.approx(2.5)
    meter.refresh()
    qtbot.waitUntil(lambda: not meter.is_reading())
    assert len(told) == 1  # not again at every read


def test_a_scripted_run_updates_the_header_and_its_bubble(
    qtbot: QtBot, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    price = {"pattern": "scripted", "input": 2.0, "output": 10.0, "context": 8000}
    (data_dir() / "prices.json").write_text(json.dumps({"models": [price]}), encoding="utf-8")
    scripted_llm.reply("Lisbon has seven hills.")
    window = chatdesk_app.window
    services = chatdesk_app.services
    user = window.user_id
    thread = services.threads.create(user, "Hills")
    window.sidebar.select_thread(thread.id)
    meter = _meter(qtbot, window)
    assert meter.label.text() == "0 tokens"
    sent = services.messages.send(user, thread.id, "How many hills has Lisbon?")
    assert sent.execution is not None
    execution_id = sent.execution.id

    def ended() -> bool:
        run = services.executions.get(user, execution_id)
        return run.status is ExecutionStatus.COMPLETED and bool(run.total_tokens)

    qtbot.waitUntil(ended, timeout=RUN_TIMEOUT_MS)
    run = services.executions.get(user, execution_id)
    assert run.prompt_tokens and run.completion_tokens
    cost = (run.prompt_tokens * 2.0 + run.completion_tokens * 10.0) / 1e6
    qtbot.waitUntil(lambda: meter.totals.tokens == run.total_tokens)
    assert meter.totals.cost == pytest.approx(cost)
    assert meter.fill is not None and meter.fill.history_chars > len("How many hills")
    reply = next(
        m for m in services.messages.list(user, thread.id).messages if m.role is Role.ASSISTANT
    )
    assert reply.status is MessageStatus.COMPLETED
    usage = _index(window, reply.id).data(MessageRoles.Usage)
    assert (usage.tokens_in, usage.tokens_out) == (run.prompt_tokens, run.completion_tokens)
    line = window.message_view.delegate.status_line(_index(window, reply.id)).text
    assert f"{run.prompt_tokens:,} in · {run.completion_tokens:,} out · $" in line
