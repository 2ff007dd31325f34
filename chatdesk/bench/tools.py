"""``python -m chatdesk.bench.tools``: what tools cost, measured against the server itself.

Prints the JSON lines of :mod:`chatdesk.bench`:

* ``mcp_direct_call_ms``: median of one ``echo`` call over an open MCP session, the SDK
  alone (the floor: the server and the stdio pipe);
* ``tool_call_ms``: median of one auto-approved call as a run makes it (the worker's
  engine: CrewAI's tool dispatch, chatdesk's approval hook, the server pool's thread hop,
  the record), from the ``tool_call`` step's own duration;
* ``tool_call_overhead_ms``: the difference, what a call costs beyond the server;
* ``tool_servers_first_run_extra_s``: how much longer the first run with three stdio
  servers takes than the same run with none (the servers start then, in the worker,
  never at the window's start-up), and ``tool_servers_warm_run_extra_s`` for the next.

Runs the engine in this process with the scripted model (no window, no model server).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ECHO_SERVER = "chatdesk.bench.echo_server"
CALLS_PER_RUN = 3


class _Lines(io.RawIOBase):
    """A write-only stream collecting the worker's protocol lines."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []
        self._buffer = b""
        self.changed = threading.Condition()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        with self.changed:
            self._buffer += chunk
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                self.lines.append(json.loads(line))
            self.changed.notify_all()
        return len(chunk)


def _server(name: str) -> Any:
    from chatdesk.engine.protocol import ToolServer

    return ToolServer(
        name=name, command=sys.executable, args=("-m", ECHO_SERVER), auto_approve=("echo",)
    )


def _direct_call_ms(calls: int) -> float:
    from chatdesk.engine.mcp_session import open_session

    async def measure() -> list[float]:
        times = []
        spec = {"transport": "stdio", "command": sys.executable, "args": ["-m", ECHO_SERVER]}
        with tempfile.TemporaryFile("w+") as errlog:
            async with open_session(spec, errlog) as session:
                await session.initialize()
                for index in range(calls + 1):
                    started = time.perf_counter()
                    await session.call_tool("echo", {"text": f"call {index}"})
                    times.append((time.perf_counter() - started) * 1000)
        return times[1:]  # the first warms the server

    return statistics.median(asyncio.run(measure()))


class _Bench:
    def __init__(self, data_dir: Path, server_env: dict[str, str]) -> None:
        from chatdesk.engine.outbox import Outbox
        from chatdesk.engine.runner import Engine

        self.stream = _Lines()
        self.engine = Engine(Outbox(self.stream), data_dir, server_env)  # type: ignore[arg-type]
        self._number = 0

    def run(
        self, script: list[Any], servers: tuple[Any, ...]
    ) -> tuple[float, list[dict[str, Any]]]:
        """Seconds until the run ended, and its events."""
        from chatdesk.engine.protocol import ModelConfig, RunRequest, ToolAccess

        self._number += 1
        run_id = f"bench-{self._number}"
        request = RunRequest(
            run_id=run_id,
            crew="assistant",
            message="Use the tool",
            model=ModelConfig(model="scripted", script=tuple(script)),
            tools=ToolAccess(servers=servers),
        )
        started = time.perf_counter()
        self.engine.start(request)
        with self.stream.changed:
            while not any(
                e.get("run_id") == run_id and e["type"] in ("completed", "failed", "cancelled")
                for e in self.stream.lines
            ):
                self.stream.changed.wait(60)
        elapsed = time.perf_counter() - started
        events = [e for e in self.stream.lines if e.get("run_id") == run_id]
        ending = events[-1]
        if ending["type"] != "completed":
            raise RuntimeError(f"bench run ended {ending['type']}: {ending}")
        return elapsed, events


def _calls(name: str, count: int) -> list[Any]:
    return [
        {"tool_calls": [{"name": f"{name}_echo", "arguments": {"text": f"call {i}"}}]}
        for i in range(count)
    ] + ["done"]


def bench_tools(calls: int = 30) -> None:
    import os

    from chatdesk.engine.worker import prepare_environment

    person_env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="chatdesk-tools-crewai-") as storage:
        here = os.getcwd()
        prepare_environment(Path(storage))  # CrewAI's files go there, as in the worker
        try:
            _bench_tools(calls, person_env)
        finally:
            os.chdir(here)
            os.environ.clear()
            os.environ.update(person_env)


def _bench_tools(calls: int, person_env: dict[str, str]) -> None:
    from chatdesk.bench.probe import emit

    direct = _direct_call_ms(calls)
    emit("mcp_direct_call_ms", direct, "ms", calls=calls)
    with tempfile.TemporaryDirectory(prefix="chatdesk-tools-bench-") as name:
        bench = _Bench(Path(name), person_env)
        try:
            server = _server("echo")
            bench.run(_calls("echo", 1), (server,))  # starts the server, warms CrewAI
            durations: list[float] = []
            while len(durations) < calls:  # a few calls a run: an agent loops 5 times at most
                _, events = bench.run(_calls("echo", CALLS_PER_RUN), (server,))
                durations += [
                    e["detail"]["duration_ms"]
                    for e in events
                    if e["type"] == "step" and e["event"] == "tool_call"
                ]
            through = statistics.median(durations)
            emit("tool_call_ms", through, "ms", calls=len(durations))
            emit("tool_call_overhead_ms", through - direct, "ms", target="<= 20")

            three = tuple(_server(f"s{i}") for i in range(3))
            plain = statistics.median(bench.run(["done"], ())[0] for _ in range(3))
            first, _ = bench.run(["done"], three)
            warm = statistics.median(bench.run(["done"], three)[0] for _ in range(3))
            emit("tool_servers_first_run_extra_s", first - plain, "s", servers=3)
            emit("tool_servers_warm_run_extra_s", warm - plain, "s", servers=3)
        finally:
            bench.engine.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatdesk.bench.tools", description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    bench_tools(args.calls)


if __name__ == "__main__":
    main()
