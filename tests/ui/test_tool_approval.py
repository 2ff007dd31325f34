"""Tools in the window: the approval panel, its answers, and what is kept of them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from chatdesk.app import ChatdeskApp
from chatdesk.testing import (
    ScriptedLLM,
    answer_tool_call,
    rows,
    send,
    tool_calls,
    use_mcp_servers,
    wait_for_reply,
)
from chatdesk.vocabulary import ToolRule

REPO = str(Path(__file__).resolve().parents[2])


def _basic(**extra: Any) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": ["-m", "tests.support.mcp_servers.basic_server"],
        "cwd": REPO,
        **extra,
    }


def _tool_steps(app: ChatdeskApp) -> list[dict[str, Any]]:
    reply_id = rows(app.window)[-1]["messageId"]
    execution = app.services.executions.runs_for_message(app.user_id, reply_id)[-1]
    logs = app.services.executions.logs(app.user_id, execution.id)
    return [entry.detail for entry in logs if entry.event == "tool_call"]


def test_a_tool_call_waits_for_the_person_and_for_this_chat_is_remembered(
    qtbot: Any, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    use_mcp_servers({"basic": _basic()})
    window = chatdesk_app.window
    scripted_llm.run(tool_calls(("basic_add", {"a": 2, "b": 3})), {"echo": True})
    send(qtbot, window, "What is 2 + 3?")
    asked = answer_tool_call(qtbot, window, "chat", timeout_ms=90_000)
    assert asked == {"server": "basic", "tool": "add", "arguments": {"a": 2, "b": 3}}
    reply = wait_for_reply(qtbot, window, timeout_ms=90_000)
    assert reply["status"] == "completed"
    assert "5" in reply["content"]
    assert not window.tool_approval.isVisible()

    thread_id = window.current_thread_id
    assert thread_id is not None
    rules = chatdesk_app.services.tool_rules.rules(chatdesk_app.user_id, thread_id)
    assert rules.approved == {"basic/add"}

    # the next run in this chat does not ask again
    scripted_llm.run(tool_calls(("basic_add", {"a": 4, "b": 4})), "eight")
    send(qtbot, window, "And 4 + 4?")
    reply = wait_for_reply(qtbot, window, timeout_ms=90_000)
    assert reply["content"] == "eight"
    assert [s["approval"] for s in _tool_steps(chatdesk_app)] == ["chat"]


def test_deny_tells_the_crew_and_the_reply_goes_on(
    qtbot: Any, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    use_mcp_servers({"basic": _basic()})
    window = chatdesk_app.window
    scripted_llm.run(tool_calls(("basic_echo", {"text": "<b>hi</b>"})), {"echo": True})
    send(qtbot, window, "Echo something")
    asked = answer_tool_call(qtbot, window, "deny", timeout_ms=90_000)
    assert asked["arguments"] == {"text": "<b>hi</b>"}
    reply = wait_for_reply(qtbot, window, timeout_ms=90_000)
    assert reply["status"] == "completed"
    assert "The person refused this call to echo" in reply["content"]
    [step] = _tool_steps(chatdesk_app)
    assert step["approval"] == "denied"


def test_stop_while_the_panel_waits_ends_the_run_and_hides_it(
    qtbot: Any, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    use_mcp_servers({"basic": _basic()})
    window = chatdesk_app.window
    scripted_llm.run(tool_calls(("basic_echo", {"text": "x"})), "never")
    send(qtbot, window, "Echo")
    qtbot.waitUntil(window.tool_approval.isVisible, timeout=90_000)
    view = window.message_view
    waiting = view.model().index(view.model().rowCount() - 1, 0)
    assert view.itemDelegate().status_line(waiting).text.startswith("Waiting for you to allow")
    window.composer.stop_button.click()
    reply = wait_for_reply(qtbot, window, timeout_ms=10_000)
    assert reply["status"] == "cancelled"
    qtbot.waitUntil(lambda: not window.tool_approval.isVisible(), timeout=5_000)


def test_auto_approved_tools_never_ask(
    qtbot: Any, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    use_mcp_servers({"basic": _basic(autoApprove=["add"])})
    window = chatdesk_app.window
    shown: list[bool] = []
    window.tool_approval.answered.connect(lambda *_: shown.append(True))
    scripted_llm.run(tool_calls(("basic_add", {"a": 1, "b": 1})), "two")
    send(qtbot, window, "1+1")
    reply = wait_for_reply(qtbot, window, timeout_ms=90_000)
    assert reply["content"] == "two"
    assert not shown and not window.tool_approval.isVisible()
    assert [s["approval"] for s in _tool_steps(chatdesk_app)] == ["auto"]


def test_the_header_switches_tools_off_and_takes_approvals_back(
    qtbot: Any, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    use_mcp_servers({"basic": _basic(), "broken": {"command": "/nonexistent/server"}})
    window = chatdesk_app.window
    scripted_llm.run("hello")
    send(qtbot, window, "Hi")
    wait_for_reply(qtbot, window, timeout_ms=90_000)
    with qtbot.waitSignal(chatdesk_app.worker.tools_listed, timeout=90_000):
        chatdesk_app._warm_tools()
    button = window.header.tools_button
    window.header.set_thread(window.header.record)
    assert button.isVisible() and button.text() == "Tools"
    button.fill()
    actions = {a.objectName(): a for a in button.tool_menu.actions() if a.objectName()}
    assert {"switch:basic", "switch:basic/echo", "switch:basic/add"} <= set(actions)
    assert actions["switch:basic/echo"].isChecked()
    texts = [a.text() for a in button.tool_menu.actions()]
    assert any("could not start" in t for t in texts)  # the broken server says why

    actions["switch:basic/echo"].toggle()
    thread_id = window.current_thread_id
    assert thread_id is not None
    tool_rules = chatdesk_app.services.tool_rules
    assert tool_rules.rules(chatdesk_app.user_id, thread_id).disabled == {"basic/echo"}

    # the next run's crew does not get the switched-off tool
    scripted_llm.run(tool_calls(("basic_echo", {"text": "x"})), "done")
    send(qtbot, window, "Echo x")
    wait_for_reply(qtbot, window, timeout_ms=90_000)
    [step] = _tool_steps(chatdesk_app)
    assert "does not offer" in step["error"]

    tool_rules.set_rule(chatdesk_app.user_id, thread_id, "basic/add", ToolRule.APPROVED, True)
    button.fill()
    revoke = [a for a in button.tool_menu.actions() if a.objectName() == "revoke:basic/add"]
    assert len(revoke) == 1
    revoke[0].trigger()
    assert tool_rules.rules(chatdesk_app.user_id, thread_id).approved == frozenset()


def test_a_reply_names_its_tool_calls_and_the_line_opens_run_details(
    qtbot: Any, chatdesk_app: ChatdeskApp, scripted_llm: ScriptedLLM
) -> None:
    from PySide6.QtCore import QPoint, Qt

    use_mcp_servers({"basic": _basic(autoApprove=["add", "fail"])})
    window = chatdesk_app.window
    scripted_llm.run(
        tool_calls(("basic_add", {"a": 1, "b": 1})),
        tool_calls(("basic_fail", {"reason": "no"})),
        "two",
    )
    send(qtbot, window, "1+1")
    reply = wait_for_reply(qtbot, window, timeout_ms=90_000)
    view = window.message_view
    index = view.model().index(view.model().rowCount() - 1, 0)
    delegate = view.itemDelegate()
    status = delegate.status_line(index)
    assert status.text.startswith("Used add (") and "fail (failed)" in status.text
    assert status.tools
    assert reply["content"] == "two"

    assert not window.execution_panel.isVisible()
    view.scrollToBottom()
    qtbot.wait(50)
    rect = view.visualRect(index)
    geo = delegate.geometry(rect, index, view.font())
    point = QPoint(int(geo.status.left()) + 6, int(geo.status.center().y()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(window.execution_panel.isVisible, timeout=5_000)
    assert window.execution_panel.value("message").startswith(f"#{reply['messageId']}")
