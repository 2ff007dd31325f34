"""``python -m chatdesk.bench.echo_server``: the smallest MCP server (stdio), for the bench.

One tool, ``echo``, that returns its text: whatever a call costs beyond it is the
pipe's, the SDK's and chatdesk's.
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

server = FastMCP("chatdesk-bench-echo")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    server.run("stdio")
