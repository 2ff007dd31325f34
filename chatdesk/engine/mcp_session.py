"""Open one MCP client session to a server described as the run protocol does.

Why one function: the Settings page's probe and the worker's server pool speak to the
same servers the same way (the official SDK's client, no MCP code of our own), so a
server that passes "Test" behaves the same in a run.

``spec`` keys: ``transport`` (``stdio``/``http``/``sse``), ``command``, ``args``,
``env``, ``cwd``, ``url``, ``headers`` (secrets already resolved).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any, TextIO

# What a stdio server inherits from the person's environment: enough to find programs
# and its own files, nothing of chatdesk's (an API key in CHATDESK_LLM_API_KEY must not
# reach a third-party tool). Its own ``env`` entries come on top.
INHERITED_VARIABLES = (
    "HOME",
    "LOGNAME",
    "USER",
    "PATH",
    "SHELL",
    "TERM",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "SYSTEMROOT",
)
# Remote servers may be slow to answer a connection, never forever.
HTTP_TIMEOUT_S = 30.0


def server_environment(base: Mapping[str, str], own: Mapping[str, str] | None) -> dict[str, str]:
    """The environment of a stdio server: the safe part of ``base`` plus its own."""
    env = {name: base[name] for name in INHERITED_VARIABLES if name in base}
    env.update({str(k): str(v) for k, v in (own or {}).items()})
    return env


def launcher_command(command: str, args: list[str]) -> tuple[str, list[str]]:
    """Run the server under :mod:`chatdesk.engine.tool_launcher`, which ends it (and
    whatever it started) when the process that started it dies, even by SIGKILL."""
    return sys.executable, [
        "-m",
        "chatdesk.engine.tool_launcher",
        str(os.getpid()),
        "--",
        command,
        *args,
    ]


@contextlib.asynccontextmanager
async def open_session(
    spec: Mapping[str, Any],
    errlog: TextIO,
    base_env: Mapping[str, str] | None = None,
    supervised: bool = False,
) -> AsyncIterator[Any]:
    """An initialised ``mcp.ClientSession`` (the caller calls ``initialize``)."""
    from mcp import ClientSession, StdioServerParameters

    transport = spec.get("transport", "stdio")
    if transport == "stdio":
        from mcp.client.stdio import stdio_client

        command = str(spec.get("command") or "")
        args = [str(a) for a in spec.get("args") or []]
        if supervised:
            command, args = launcher_command(command, args)
        own_env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
        env = server_environment(base_env, own_env) if base_env is not None else own_env or None
        # Without a cwd of its own a server starts in the person's home, not wherever
        # this process happens to be (the worker sits in CrewAI's storage).
        cwd = spec.get("cwd") or (base_env or {}).get("HOME") or None
        params = StdioServerParameters(command=command, args=args, env=env, cwd=cwd)
        async with stdio_client(params, errlog=errlog) as (read, write):  # noqa: SIM117
            async with ClientSession(read, write) as session:
                yield session
        return
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    url = str(spec.get("url") or "")
    if transport == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(url, headers=headers) as (read, write):  # noqa: SIM117
            async with ClientSession(read, write) as session:
                yield session
        return
    import httpx
    from mcp.client.streamable_http import streamable_http_client

    # Never follow a redirect: it would carry the headers (tokens) to another host.
    client = httpx.AsyncClient(headers=headers, follow_redirects=False, timeout=HTTP_TIMEOUT_S)
    async with client, streamable_http_client(url, http_client=client) as (read, write, _):  # noqa: SIM117
        async with ClientSession(read, write) as session:
            yield session
