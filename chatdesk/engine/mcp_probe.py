"""``python -m chatdesk.engine.mcp_probe``: start one MCP server, list its tools, stop it.

The Settings page's "Test" runs this in a process of its own: the GUI never speaks MCP
itself (no event loop of the SDK's on the GUI thread, nothing to leak into the window
when a server misbehaves), and a hung server is ended by ending this process.

Input (stdin, one JSON object, then stdin stays open): the server as the run protocol
describes it, secrets already resolved: ``transport`` (``stdio``/``http``/``sse``),
``command``, ``args``, ``env``, ``cwd``, ``url``, ``headers``, ``timeout_s``.
Output (stdout, one JSON line; the caller then closes stdin, which ends the probe):
``{"ok": true, "server": {...}, "tools": [{"name", "description", "input_schema"}]}``
or ``{"ok": false, "error": "<one sentence>"}``.

No orphan: the probe leads a process group of its own, which the server it starts
joins; when stdin closes (the GUI cancelled, closed the dialog or died) or the time is
up, the whole group is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from typing import Any, TextIO

from chatdesk.engine.mcp_session import open_session
from chatdesk.engine.stderr_tail import StderrTail

MAX_ERROR_CHARS = 600
MAX_TOOLS = 500


class ProbeError(Exception):
    """Why the server could not be listed, for people."""


def _spec() -> dict[str, Any]:
    line = sys.stdin.readline()
    try:
        spec = json.loads(line)
    except ValueError as exc:
        raise ProbeError(f"the probe was given no valid server description ({exc})") from None
    if not isinstance(spec, dict):
        raise ProbeError("the probe was given no valid server description")
    return spec


async def _list_tools(spec: dict[str, Any], errlog: TextIO) -> dict[str, Any]:
    async with open_session(spec, errlog, base_env=os.environ) as session:
        init = await session.initialize()
        listed = await session.list_tools()
    tools = [
        {
            "name": tool.name,
            "description": (tool.description or "")[:2000],
            "input_schema": tool.inputSchema,
        }
        for tool in listed.tools[:MAX_TOOLS]
    ]
    info = getattr(init, "serverInfo", None)
    server = {"name": getattr(info, "name", ""), "version": getattr(info, "version", "")}
    return {"ok": True, "server": server, "tools": tools}


def _reason(exc: BaseException, errlog: StderrTail) -> str:
    """One sentence: what failed, and the last thing the server wrote to stderr."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, ProbeError):
        text = str(exc)
    elif isinstance(exc, FileNotFoundError):
        text = f"the command was not found ({exc.filename or exc})"
    elif isinstance(exc, TimeoutError):
        text = "the server did not answer in time"
    else:
        text = f"the server could not be reached or stopped ({type(exc).__name__}: {exc})"
    errlog.settle()
    said = errlog.last_line()
    if said:
        text += f"; it said: {said}"
    return text[:MAX_ERROR_CHARS]


def _end_group_when_stdin_closes() -> threading.Thread:
    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdin.read()
        os.killpg(0, signal.SIGKILL)

    watcher = threading.Thread(target=watch, name="stdin-watch", daemon=True)
    watcher.start()
    return watcher


def main() -> int:
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # the server joins this group; one kill ends both
    try:
        spec = _spec()
    except ProbeError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
        return 2
    timeout_s = float(spec.get("timeout_s") or 30)
    watcher = _end_group_when_stdin_closes()
    errlog = StderrTail()  # a flooding server costs a few lines, not the disk
    try:
        result = asyncio.run(asyncio.wait_for(_list_tools(spec, errlog.file), timeout_s))
    except BaseException as exc:  # every failure becomes one readable line
        if isinstance(exc, KeyboardInterrupt):
            raise
        result = {"ok": False, "error": _reason(exc, errlog)}
    print(json.dumps(result), flush=True)
    # The caller closes stdin once it has the answer; then the group (this process and
    # whatever the server left behind) ends together. A caller that never closes it
    # gets the same a little later.
    watcher.join(timeout=30)
    os.killpg(0, signal.SIGKILL)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
