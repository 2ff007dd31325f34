"""Tools in real runs: real CrewAI, real MCP servers started by the worker, only the
model scripted (native function calling and ReAct text)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import (
    ApprovalEvent,
    CancelledEvent,
    StepEvent,
    ToolAccess,
    ToolServer,
)
from chatdesk.engine.tool_servers import CLOSE_TIMEOUT_S
from tests.engine.conftest import (
    Recorder,
    run_request,
    scripted,
    wait_ready,
)
from tests.support.mcp_servers import running_http_server

REPO = str(Path(__file__).resolve().parents[2])


def basic(name: str = "basic", **overrides: Any) -> ToolServer:
    """The test server of tests/support over stdio, started by the worker."""
    fields: dict[str, Any] = {
        "name": name,
        "command": sys.executable,
        "args": ("-m", "tests.support.mcp_servers.basic_server"),
        "cwd": REPO,
        "auto_approve": ("echo", "add", "pid", "env", "huge", "crash", "hang", "fail"),
    }
    fields.update(overrides)
    return ToolServer(**fields)


def calls(*tool_calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args} for name, args in tool_calls]}


ECHO_PROMPT = {"echo": True}  # the final answer is the prompt: shows what the agent got


def tool_steps(recorder: Recorder, run_id: str) -> list[dict[str, Any]]:
    return [
        e.detail
        for e in recorder.events[run_id]
        if isinstance(e, StepEvent) and e.event == "tool_call"
    ]


def tool_errors(recorder: Recorder, run_id: str) -> list[dict[str, Any]]:
    return [
        e.detail
        for e in recorder.events[run_id]
        if isinstance(e, StepEvent) and e.event == "tool_error"
    ]


def run_with_tools(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    script: list[Any],
    servers: tuple[ToolServer, ...] = (),
    timeout_ms: int = 90_000,
    **access: Any,
) -> str:
    request = run_request(
        scripted(*script), tools=ToolAccess(servers=servers, **access), message="Use a tool"
    )
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id, timeout_ms)
    return request.run_id


def test_a_native_tool_call_runs_and_is_on_the_record(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    run_id = run_with_tools(
        client,
        recorder,
        qtbot,
        [calls(("basic_add", {"a": 2, "b": 40})), ECHO_PROMPT],
        (basic(),),
    )
    answer = recorder.completed(run_id).text
    assert "42" in answer  # the agent saw the tool's result
    [step] = tool_steps(recorder, run_id)
    assert step["server"] == "basic" and step["tool"] == "add"
    assert json.loads(step["arguments"]) == {"a": 2, "b": 40}
    assert step["result"] == "42"
    assert step["approval"] == "auto"
    assert "error" not in step
    assert 0 <= step["duration_ms"] < 60_000


def test_a_streamable_http_server_serves_a_run(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    with running_http_server() as url:
        remote = ToolServer(
            name="remote",
            transport="http",
            url=url,
            headers={"Authorization": "Bearer rt-55aa0b9d1c2e3f4a"},
            auto_approve=("add",),
        )
        run_id = run_with_tools(
            client, recorder, qtbot, [calls(("remote_add", {"a": 20, "b": 22})), "ok"], (remote,)
        )
    [step] = tool_steps(recorder, run_id)
    assert step["result"] == "42" and step["server"] == "remote"


def test_an_sse_server_serves_a_run(client: WorkerClient, recorder: Recorder, qtbot: Any) -> None:
    with running_http_server("sse") as url:
        remote = ToolServer(name="sse", transport="sse", url=url, auto_approve=("echo",))
        run_id = run_with_tools(
            client, recorder, qtbot, [calls(("sse_echo", {"text": "over sse"})), "ok"], (remote,)
        )
    [step] = tool_steps(recorder, run_id)
    assert step["result"] == "over sse"


def test_a_server_is_started_once_and_reused_by_the_next_run(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    server = basic("reuse")
    first = run_with_tools(client, recorder, qtbot, [calls(("reuse_pid", {})), "done"], (server,))
    second = run_with_tools(client, recorder, qtbot, [calls(("reuse_pid", {})), "done"], (server,))
    pid_first = tool_steps(recorder, first)[0]["result"]
    pid_second = tool_steps(recorder, second)[0]["result"]
    assert pid_first.isdigit() and pid_first == pid_second


def test_react_text_tool_calls_reach_the_reference_time_server(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    time_server = ToolServer(
        name="time",
        command=sys.executable,
        args=("-m", "mcp_server_time", "--local-timezone", "UTC"),
        auto_approve=("get_current_time",),
    )
    react = {
        "raw": True,
        "text": "Thought: I need the time.\nAction: time_get_current_time\n"
        'Action Input: {"timezone": "Europe/Paris"}',
    }
    run_id = run_with_tools(client, recorder, qtbot, [react, ECHO_PROMPT], (time_server,))
    [step] = tool_steps(recorder, run_id)
    assert step["tool"] == "get_current_time", step
    assert "Europe/Paris" in step["result"]
    assert "Europe/Paris" in recorder.completed(run_id).text


def test_a_call_that_asks_first_waits_for_the_person(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    server = basic("ask", auto_approve=())
    script = [
        calls(("ask_echo", {"text": "first"})),
        calls(("ask_echo", {"text": "second"})),
        calls(("ask_add", {"a": 1, "b": 1})),
        ECHO_PROMPT,
    ]
    request = run_request(scripted(*script), tools=ToolAccess(servers=(server,)))
    client.submit(request)

    def approvals() -> list[ApprovalEvent]:
        return [e for e in recorder.events[request.run_id] if isinstance(e, ApprovalEvent)]

    recorder.wait_until(qtbot, lambda: len(approvals()) == 1, 90_000)
    first = approvals()[0]
    assert (first.server, first.tool, first.arguments) == ("ask", "echo", {"text": "first"})
    time.sleep(0.3)  # nothing runs while it waits
    assert tool_steps(recorder, request.run_id) == []
    client.answer(request.run_id, first.call_id, "chat")
    # "for this chat": the second echo does not ask; add is another tool and does
    recorder.wait_until(qtbot, lambda: len(approvals()) == 2, 60_000)
    assert approvals()[1].tool == "add"
    client.answer(request.run_id, approvals()[1].call_id, "deny")
    recorder.wait_terminal(qtbot, request.run_id, 60_000)

    steps = tool_steps(recorder, request.run_id)
    assert [(s["tool"], s["approval"]) for s in steps] == [
        ("echo", "chat"),
        ("echo", "chat"),
        ("add", "denied"),
    ]
    assert steps[2]["error"] == "refused by the person"
    answer = recorder.completed(request.run_id).text
    assert "The person refused this call to add" in answer


def test_stop_while_a_call_waits_for_approval_ends_the_run(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    server = basic("stopask", auto_approve=())
    request = run_request(
        scripted(calls(("stopask_echo", {"text": "x"})), "never"),
        tools=ToolAccess(servers=(server,)),
    )
    client.submit(request)
    recorder.wait_for(qtbot, request.run_id, ApprovalEvent, 90_000)
    started = time.monotonic()
    client.cancel(request.run_id)
    event = recorder.wait_terminal(qtbot, request.run_id, 10_000)
    assert isinstance(event, CancelledEvent)
    assert time.monotonic() - started < 2.0


def test_a_crashing_server_is_an_error_step_and_the_next_run_restarts_it(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    server = basic("crashy")
    crashed = run_with_tools(
        client,
        recorder,
        qtbot,
        [calls(("crashy_pid", {})), calls(("crashy_crash", {})), ECHO_PROMPT],
        (server,),
    )
    steps = tool_steps(recorder, crashed)
    assert steps[1]["tool"] == "crash" and "crashy" in steps[1]["error"]
    assert "crashy" in recorder.completed(crashed).text  # the agent was told
    again = run_with_tools(client, recorder, qtbot, [calls(("crashy_pid", {})), "done"], (server,))
    [step] = tool_steps(recorder, again)
    assert step["result"].isdigit() and step["result"] != steps[0]["result"]


def test_a_hung_call_times_out_per_server_and_the_run_goes_on(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    server = basic("slow", timeout_s=1.0)
    run_id = run_with_tools(
        client,
        recorder,
        qtbot,
        [calls(("slow_hang", {"seconds": 600})), calls(("slow_echo", {"text": "after"})), "ok"],
        (server,),
    )
    steps = tool_steps(recorder, run_id)
    assert "did not answer within 1 s" in steps[0]["error"]
    assert steps[1]["result"] == "after"  # restarted, answering again
    assert recorder.completed(run_id).text == "ok"


def test_a_huge_result_is_capped_for_the_agent_and_the_record(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    run_id = run_with_tools(
        client,
        recorder,
        qtbot,
        [calls(("big_huge", {"size": 1_000_000})), {"echo": True, "chunk_size": 50_000}],
        (basic("big"),),
    )
    [step] = tool_steps(recorder, run_id)
    assert step["result_chars"] == 1_000_000
    assert 64_000 <= len(step["result"]) < 64_200
    assert "more characters not shown" in step["result"]
    # what reached the model was cut too (the echo shows the prompt it got)
    seen = recorder.completed(run_id).text
    assert "x" * 100_000 in seen and "x" * 100_001 not in seen
    assert "900,000 more characters not shown" in seen


def test_servers_and_tools_that_cannot_be_had_are_errors_and_the_run_goes_on(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    missing = ToolServer(name="ghost", command="/nonexistent/mcp-server", args=())
    run_id = run_with_tools(
        client,
        recorder,
        qtbot,
        ["answered anyway"],
        (missing,),
    )
    errors = tool_errors(recorder, run_id)
    assert any("ghost" in e["error"] and "could not start" in e["error"] for e in errors)
    assert recorder.completed(run_id).text == "answered anyway"


def test_a_tool_the_model_invents_is_an_error_on_the_record(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    run_id = run_with_tools(
        client,
        recorder,
        qtbot,
        [calls(("inv_nosuch", {"x": 1})), "answered anyway"],
        (basic("inv"),),
    )
    [step] = tool_steps(recorder, run_id)
    assert "does not offer: inv_nosuch" in step["error"]
    assert recorder.completed(run_id).text == "answered anyway"


def test_a_server_gets_the_persons_environment_without_chatdesks_secrets(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    server = basic("envy", env={"TOKEN": "tok-7f3a9c2b8e1d4f60"}, secret_keys=("TOKEN",))
    run_id = run_with_tools(
        client,
        recorder,
        qtbot,
        [
            calls(("envy_env", {"name": "CHATDESK_LLM_API_KEY"})),
            calls(("envy_env", {"name": "TOKEN"})),
            calls(("envy_env", {"name": "HOME"})),
            "ok",
        ],
        (server,),
    )
    steps = tool_steps(recorder, run_id)
    assert steps[0]["result"] == "<unset>"
    assert "tok-7f3a9c2b8e1d4f60" not in json.dumps(recorder.events[run_id], default=str)
    assert steps[1]["result"] != "<unset>"  # it had it; the record masks it
    assert "crewai" not in steps[2]["result"]  # the person's HOME, not CrewAI's


@pytest.mark.timeout(300)
def test_killing_the_worker_ends_every_server_it_started(
    qapp: Any, qtbot: Any, tmp_path: Path
) -> None:
    client = WorkerClient(data_dir=tmp_path)
    client.start()
    recorder = Recorder(client)
    try:
        wait_ready(qtbot, client)
        run_id = run_with_tools(
            client, recorder, qtbot, [calls(("k_pid", {})), "ok"], (basic("k"),)
        )
        pid = int(tool_steps(recorder, run_id)[0]["result"])
        assert _alive(pid)
        worker_pid = client.pid
        assert worker_pid is not None
        os.kill(worker_pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            qtbot.wait(100)
        assert not _alive(pid), "the MCP server outlived its worker"
    finally:
        recorder.close()
        client.shutdown()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                try:
                    found[child] = (
                        (Path("/proc") / str(child) / "cmdline").read_text().replace("\0", " ")
                    )
                except OSError:
                    continue
                frontier.append(child)
    return found


def test_warming_starts_servers_before_the_first_run_needs_them(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    server = basic("warmed", args=("-m", "tests.support.mcp_servers.basic_server", "--warm"))
    worker = client.pid
    assert worker is not None
    client.warm_tools(ToolAccess(servers=(server,)))

    def started() -> list[int]:
        return [
            pid
            for pid, cmd in _descendants(worker).items()
            if "basic_server --warm" in cmd and "tool_launcher" not in cmd
        ]

    qtbot.waitUntil(lambda: len(started()) == 1, timeout=60_000)
    run_id = run_with_tools(client, recorder, qtbot, [calls(("warmed_pid", {})), "ok"], (server,))
    assert tool_steps(recorder, run_id)[0]["result"] == str(started()[0])


def test_shutting_the_worker_down_ends_its_servers(qapp: Any, qtbot: Any, tmp_path: Path) -> None:
    client = WorkerClient(data_dir=tmp_path)
    client.start()
    recorder = Recorder(client)
    try:
        wait_ready(qtbot, client)
        run_id = run_with_tools(
            client, recorder, qtbot, [calls(("q_pid", {})), "ok"], (basic("q"),)
        )
        pid = int(tool_steps(recorder, run_id)[0]["result"])
        assert _alive(pid)
    finally:
        recorder.close()
        client.shutdown(wait_ms=10_000)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the MCP server outlived the worker's shutdown"


def _crew(data_dir: Path, name: str, tools_line: str) -> str:
    folder = data_dir / "crews" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agents.yaml").write_text(
        "helper:\n  role: Helper\n  goal: Help with {message}\n  backstory: Careful.\n"
        + tools_line,
        encoding="utf-8",
    )
    (folder / "tasks.yaml").write_text(
        "answer:\n  description: Answer {message}\n  expected_output: An answer\n  agent: helper\n",
        encoding="utf-8",
    )
    return name


def test_a_crew_names_its_tools_and_gets_only_those(
    client: WorkerClient, recorder: Recorder, qtbot: Any, data_dir: Path
) -> None:
    crew = _crew(data_dir, "timekeeper", "  tools: [chatdesk/current_time, named/add]\n")
    request = run_request(
        scripted(
            calls(("current_time", {})),
            calls(("named_echo", {"text": "not offered"})),
            calls(("named_add", {"a": 1, "b": 2})),
            "done",
        ),
        crew=crew,
        tools=ToolAccess(servers=(basic("named"), basic("other"))),
    )
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id, 90_000)
    steps = tool_steps(recorder, request.run_id)
    assert [(s["server"], s["tool"]) for s in steps] == [
        ("chatdesk", "current_time"),
        ("", "named_echo"),
        ("named", "add"),
    ]
    assert steps[0]["approval"] == "auto" and steps[0]["result"][:4].isdigit()
    assert "does not offer" in steps[1]["error"]
    assert steps[2]["result"] == "3"


def test_a_crew_with_no_tools_gets_none_even_with_servers(
    client: WorkerClient, recorder: Recorder, qtbot: Any, data_dir: Path
) -> None:
    crew = _crew(data_dir, "talker", "  tools: []\n")
    request = run_request(
        scripted({"echo": True}), crew=crew, tools=ToolAccess(servers=(basic("unused"),))
    )
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id, 90_000)
    assert _offered(recorder, request.run_id) == []


def test_a_chat_can_switch_a_server_or_one_tool_off(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    run_id = run_with_tools(
        client,
        recorder,
        qtbot,
        ["ok"],
        (basic("on"), basic("off")),
        disabled=("off", "on/echo"),
    )
    assert "on_add" in _offered(recorder, run_id)
    assert not {"on_echo", "off_add", "off_echo"} & set(_offered(recorder, run_id))


def _offered(recorder: Recorder, run_id: str) -> list[str]:
    """The tools the run's agent was given (its agent_started step)."""
    [started] = [
        e
        for e in recorder.events[run_id]
        if isinstance(e, StepEvent) and e.event == "agent_started"
    ]
    return list(started.detail["tools"])


def test_stop_during_a_hung_call_ends_the_run_within_two_seconds(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    request = run_request(
        scripted(calls(("stuck_hang", {"seconds": 600})), "never"),
        tools=ToolAccess(servers=(basic("stuck"),)),
    )
    client.submit(request)
    recorder.wait_until(
        qtbot,
        lambda: any(
            isinstance(e, StepEvent) and e.event == "tool_started"
            for e in recorder.events[request.run_id]
        ),
        90_000,
    )
    time.sleep(0.5)  # the call is in the server now
    started = time.monotonic()
    client.cancel(request.run_id)
    assert isinstance(recorder.wait_terminal(qtbot, request.run_id, 10_000), CancelledEvent)
    assert time.monotonic() - started < 2.0
    # the worker is healthy: the next run with the same server works. Sent once the hung
    # server is gone (its close waits up to 5 s): a run sent at once has, once in a few
    # loaded CI runs, had its first call fail while the old session was being torn down
    # and the new one started (cause not yet found; the step's error now says).
    qtbot.wait(int((CLOSE_TIMEOUT_S + 1) * 1000))
    run_id = run_with_tools(
        client, recorder, qtbot, [calls(("stuck_echo", {"text": "again"})), "ok"], (basic("stuck"),)
    )
    step = tool_steps(recorder, run_id)[0]
    assert step["result"] == "again", step


def test_waiting_for_the_person_does_not_count_against_the_deadline(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    request = run_request(
        scripted(calls(("patient_echo", {"text": "x"})), "done"),
        tools=ToolAccess(servers=(basic("patient", auto_approve=()),)),
        deadline_s=4.0,
    )
    client.submit(request)
    recorder.wait_for(qtbot, request.run_id, ApprovalEvent, 90_000)
    [asked] = [e for e in recorder.events[request.run_id] if isinstance(e, ApprovalEvent)]
    qtbot.wait(5_000)  # the person thinks longer than the run may take
    assert recorder.terminal(request.run_id) is None
    client.answer(request.run_id, asked.call_id, "once")
    assert (
        recorder.completed(request.run_id)
        if recorder.wait_terminal(qtbot, request.run_id, 30_000)
        else False
    )


def test_a_server_that_speaks_garbage_is_a_readable_error(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    garbage = ToolServer(
        name="garbage",
        command=sys.executable,
        args=("-c", "print('this is not JSON-RPC'); print('{\"jsonrpc\": 7}')"),
    )
    started = time.monotonic()
    run_id = run_with_tools(client, recorder, qtbot, ["fine anyway"], (garbage,))
    [error] = tool_errors(recorder, run_id)
    assert "garbage" in error["error"] and "could not start" in error["error"]
    assert recorder.completed(run_id).text == "fine anyway"
    assert time.monotonic() - started < 20  # not the 30 s start-up limit


def test_a_server_flooding_stderr_costs_a_few_lines_not_the_disk(
    client: WorkerClient, recorder: Recorder, qtbot: Any
) -> None:
    flood = ToolServer(
        name="flood",
        command=sys.executable,
        args=(
            "-c",
            "import sys\nfor _ in range(200): sys.stderr.write('y' * 250_000 + '\\n')\n"
            "sys.stderr.write('the real reason\\n')",
        ),
    )
    run_id = run_with_tools(client, recorder, qtbot, ["ok"], (flood,))
    [error] = tool_errors(recorder, run_id)
    assert error["error"].endswith("it said: the real reason"), error["error"][-300:]


def test_the_built_in_calculator_answers_and_refuses_in_words(
    client: WorkerClient, recorder: Recorder, qtbot: Any, data_dir: Path
) -> None:
    crew = _crew(data_dir, "counter", "  tools: [chatdesk/calculator]\n")
    request = run_request(
        scripted(
            calls(("calculator", {"expression": "6 * 7"})),
            calls(("calculator", {"expression": "__import__('os')"})),
            calls(("calculator", {"expression": "9 ** 9 ** 9"})),
            "done",
        ),
        crew=crew,
    )
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id, 90_000)
    results = [s["result"] for s in tool_steps(recorder, request.run_id)]
    assert results[0] == "42"
    assert results[1].startswith("Cannot calculate:")
    assert results[2] == "Cannot calculate: the result would be too large"
    assert _offered(recorder, request.run_id) == ["calculator"]
