"""The Settings page's "Test": one MCP server started, its tools listed, nothing left over.

Real servers only: the FastMCP server of ``tests.support.mcp_servers`` over stdio and
over streamable HTTP on 127.0.0.1, and programs that are not MCP servers at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mcp_servers import running_http_server
from tests.support.processes import die_with_parent, live_descendants

REPO = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "tests.support.mcp_servers.basic_server"]


def _probe(spec: dict[str, Any], timeout_s: float = 60) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    probe = subprocess.Popen(
        [sys.executable, "-m", "chatdesk.engine.mcp_probe"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(),
    )
    assert probe.stdin is not None and probe.stdout is not None
    try:
        probe.stdin.write(json.dumps(spec) + "\n")
        probe.stdin.flush()
        line = probe.stdout.readline()
        elapsed = time.monotonic() - started
    finally:
        probe.stdin.close()  # as the dialog does once it has the answer
        probe.wait(timeout=timeout_s)
        probe.stdout.close()
    return json.loads(line), elapsed


def _stdio(*command: str, **extra: Any) -> dict[str, Any]:
    return {
        "transport": "stdio",
        "command": command[0],
        "args": list(command[1:]),
        "cwd": str(REPO),
        **extra,
    }


def test_a_stdio_server_lists_its_tools() -> None:
    result, _ = _probe(_stdio(*SERVER))
    assert result["ok"], result
    tools = {tool["name"]: tool for tool in result["tools"]}
    assert {"echo", "add", "fail", "hang", "crash", "huge"} <= set(tools)
    assert tools["add"]["description"] == "Add two whole numbers."
    assert set(tools["add"]["input_schema"]["properties"]) == {"a", "b"}
    assert result["server"]["name"] == "chatdesk-test-basic"
    assert not live_descendants()  # the server ended with the probe


@pytest.fixture
def http_server() -> Iterator[str]:
    with running_http_server() as url:
        yield url


def test_a_streamable_http_server_lists_its_tools(http_server: str) -> None:
    result, _ = _probe({"transport": "http", "url": http_server, "headers": {"X-Test": "1"}})
    assert result["ok"], result
    assert "echo" in {tool["name"] for tool in result["tools"]}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (_stdio("chatdesk-no-such-command-here"), "not found"),
        (
            _stdio(sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"),
            "it said: boom",
        ),
        ({"transport": "http", "url": "http://127.0.0.1:9/mcp"}, "could not be reached"),
    ],
    ids=["missing-command", "exits-at-once", "nobody-listening"],
)
def test_a_server_that_cannot_start_gives_one_clear_sentence(
    spec: dict[str, Any], words: str
) -> None:
    result, _ = _probe({**spec, "timeout_s": 20})
    assert not result["ok"] and words in result["error"], result
    assert "\n" not in result["error"] and len(result["error"]) <= 600


@pytest.mark.parametrize(
    "program",
    [
        "import time; time.sleep(120)",
        "import time; print('hello, not JSON', flush=True); time.sleep(120)",
    ],
    ids=["silent", "garbage"],
)
def test_a_server_that_hangs_or_talks_nonsense_times_out_and_leaves_nothing(program: str) -> None:
    result, elapsed = _probe(_stdio(sys.executable, "-c", program, timeout_s=2))
    assert not result["ok"] and "did not answer in time" in result["error"], result
    assert elapsed < 20  # the probe's own 2 s, plus a start-up on a busy machine
    deadline = time.monotonic() + 10
    while live_descendants() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_descendants()  # the hung server is gone with the probe
