"""A small real MCP server for tests, written with the official SDK's FastMCP.

``python -m tests.support.mcp_servers.basic_server`` serves over stdio;
``... --http PORT`` serves streamable HTTP on 127.0.0.1:PORT at ``/mcp``, ``--sse PORT``
the older SSE transport at ``/sse``.
Its tools succeed (``echo``, ``add``), and misbehave on request (``fail``, ``hang``,
``crash``, ``huge``), so the tests can drive every path with one server.
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.fastmcp import FastMCP

server = FastMCP("chatdesk-test-basic", host="127.0.0.1")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def fail(reason: str = "on purpose") -> str:
    """Raise an error with the given reason."""
    raise RuntimeError(reason)


@server.tool()
def hang(seconds: float = 3600) -> str:
    """Answer only after the given number of seconds."""
    time.sleep(seconds)
    return "late"


@server.tool()
def crash() -> str:
    """End the server process in the middle of the call."""
    os._exit(3)


@server.tool()
def pid() -> int:
    """The server's process id (tests tell a reused server from a restarted one)."""
    return os.getpid()


@server.tool()
def env(name: str) -> str:
    """The value of an environment variable of the server, or '<unset>'."""
    return os.environ.get(name, "<unset>")


@server.tool()
def huge(size: int = 1_000_000) -> str:
    """Return that many characters."""
    return "x" * size


if __name__ == "__main__":
    # ``--warm`` changes nothing: it marks a test's server in the process list.
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.settings.port = int(sys.argv[2])
        server.run("streamable-http")
    elif len(sys.argv) == 3 and sys.argv[1] == "--sse":
        server.settings.port = int(sys.argv[2])
        server.run("sse")
    else:
        server.run("stdio")
