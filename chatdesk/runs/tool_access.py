"""The tools a run may use: mcp.json's enabled servers (secrets resolved) and the chat's rules.

Why here: the coordinator builds every run request, and the tools belong in it like the
model does. The file is read again only when it changed (its mtime and size), so a
person's edit applies to the next run without a restart, and an unchanged file costs a
``stat``. A server whose secret is missing is left out and said so in the log and the
returned ``problems``; a broken file offers no servers (the Settings page names the line).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chatdesk.engine.protocol import ToolAccess, ToolServer, ToolsEvent
from chatdesk.services.tool_rules import ChatToolRules
from chatdesk.toolconfig.mcp_file import McpLoadResult, load_mcp_servers, mcp_file
from chatdesk.toolconfig.secret_refs import (
    MissingSecretError,
    is_reference,
    is_secret_name,
    resolve_secrets,
)
from chatdesk.toolconfig.server_config import McpServerConfig

log = logging.getLogger(__name__)

RulesReader = Callable[[int, int], ChatToolRules]


@dataclass(frozen=True)
class ServerTools:
    """An enabled server as a chat's tool menu lists it: its tools once the worker has
    listed them (empty until then), or why it could not start."""

    name: str
    tools: tuple[str, ...] = ()
    error: str | None = None


def to_tool_server(server: McpServerConfig) -> ToolServer:
    """``server`` as the run protocol carries it (secrets resolved; may raise
    :class:`MissingSecretError`)."""
    secret_keys = tuple(
        name
        for part in (server.env, server.headers)
        for name, value in part.items()
        if is_reference(value) or is_secret_name(name)
    )
    resolved = resolve_secrets(server)
    return ToolServer(
        name=server.name,
        transport=resolved.transport.value,
        command=resolved.command,
        args=tuple(resolved.args),
        env=dict(resolved.env),
        cwd=resolved.cwd,
        url=resolved.url,
        headers=dict(resolved.headers),
        timeout_s=resolved.timeout_s,
        auto_approve=tuple(resolved.auto_approve),
        secret_keys=secret_keys,
    )


class ToolAccessSource:
    """Builds each run's :class:`ToolAccess` (GUI side; no MCP spoken here)."""

    def __init__(self, data_dir: Path, rules: RulesReader):
        self._path = mcp_file(data_dir)
        self._data_dir = data_dir
        self._rules = rules
        self._stamp: tuple[int, int] | None = None
        self._loaded: McpLoadResult | None = None
        self._listed: dict[str, tuple[str, ...]] = {}
        self._errors: dict[str, str] = {}
        self.problems: list[str] = []

    def remember(self, event: ToolsEvent) -> None:
        """What the worker found the servers offer (a ``tools_listed`` signal)."""
        self._listed = {name: tuple(tools) for name, tools in event.servers.items()}
        self._errors = dict(event.errors)

    def catalog(self) -> list[ServerTools]:
        """Every enabled server with its tools as last listed."""
        return [
            ServerTools(
                server.name, self._listed.get(server.name, ()), self._errors.get(server.name)
            )
            for server in self.servers()
        ]

    def servers(self) -> tuple[McpServerConfig, ...]:
        """The enabled servers of mcp.json as it is now."""
        try:
            info = os.stat(self._path)
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        if self._loaded is None or stamp != self._stamp:
            self._stamp = stamp
            self._loaded = load_mcp_servers(self._data_dir)
            if self._loaded.error is not None:
                log.warning("mcp.json offers no tools: %s", self._loaded.error)
        return self._loaded.enabled

    def for_warm_up(self) -> ToolAccess:
        """Every enabled server, to start before the first run needs them."""
        return ToolAccess(servers=self._resolved())

    def for_thread(self, user_id: int, thread_id: int) -> ToolAccess:
        rules = self._rules(user_id, thread_id)
        return ToolAccess(
            servers=self._resolved(),
            disabled=tuple(sorted(rules.disabled)),
            approved=tuple(sorted(rules.approved)),
        )

    def _resolved(self) -> tuple[ToolServer, ...]:
        servers: list[ToolServer] = []
        problems: list[str] = []
        for config in self.servers():
            try:
                servers.append(to_tool_server(config))
            except MissingSecretError as exc:
                problems.append(str(exc))
                log.warning("%s; the server is left out of this run", exc)
        self.problems = problems
        return tuple(servers)
