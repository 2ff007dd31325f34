"""One MCP server entry of ``mcp.json``, in the form the rest of chatdesk uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DEFAULT_TIMEOUT_S = 60.0


class Transport(StrEnum):
    """How chatdesk talks to the server: a process it starts, or a URL."""

    STDIO = "stdio"
    HTTP = "http"  # streamable HTTP, the default for a URL
    SSE = "sse"


@dataclass(frozen=True)
class McpServerConfig:
    """A server as the file describes it; ``env``/``headers`` values may be references
    (``${keyring:...}``, ``${env:...}``) until ``resolve_secrets`` fills them in.

    ``extra`` keeps the keys chatdesk does not know (another app's, a newer format's),
    so a file written back keeps them: a person's file is theirs.
    """

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    disabled: bool = False
    auto_approve: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def enabled(self) -> bool:
        return not self.disabled

    @property
    def target(self) -> str:
        """What a person recognises the server by: its command line or its URL."""
        if self.transport is Transport.STDIO:
            return " ".join([self.command or "", *self.args]).strip()
        return self.url or ""
