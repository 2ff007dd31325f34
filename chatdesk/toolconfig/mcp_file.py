"""``<data dir>/mcp.json``: the ``mcpServers`` file Claude Desktop, Cursor, LM Studio and
Cline write, read without surprises and written back without losing anything.

Reading never raises: a broken file is a ``McpConfigError`` naming the line (and the
server and key), so the Settings page can say what to fix while the rest of chatdesk
works with no servers. Writing is atomic (a temporary file, fsync, rename; 0600), keeps
the keys chatdesk does not know and the order of everything, and first moves literal
secrets of ``env``/``headers`` into the keyring (``secret_refs``).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from chatdesk.private_files import write_atomically
from chatdesk.toolconfig.secret_refs import stash_secrets
from chatdesk.toolconfig.server_config import DEFAULT_TIMEOUT_S, McpServerConfig, Transport

MCP_FILE_NAME = "mcp.json"
MAX_FILE_BYTES = 1_000_000
MAX_TIMEOUT_S = 3600.0
_KNOWN = (
    "type",
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "disabled",
    "autoApprove",
    "alwaysAllow",
    "timeout",
)
_TRANSPORTS = {
    "stdio": Transport.STDIO,
    "sse": Transport.SSE,
    "http": Transport.HTTP,
    "streamable-http": Transport.HTTP,
    "streamable_http": Transport.HTTP,
    "streamablehttp": Transport.HTTP,
}


@dataclass(frozen=True)
class McpConfigError:
    """What is wrong with the file, and where: for people, one sentence."""

    message: str
    line: int | None = None
    server: str | None = None

    def __str__(self) -> str:
        where = f"{MCP_FILE_NAME}, line {self.line}" if self.line else MCP_FILE_NAME
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class McpLoadResult:
    """The servers of a file that parsed, or none and the error of one that did not."""

    path: Path
    servers: tuple[McpServerConfig, ...] = ()
    error: McpConfigError | None = None

    @property
    def enabled(self) -> tuple[McpServerConfig, ...]:
        return tuple(s for s in self.servers if s.enabled)


class _Invalid(Exception):
    def __init__(self, message: str, server: str | None = None, key: str | None = None):
        super().__init__(message)
        self.message, self.server, self.key = message, server, key


def mcp_file(data_dir: Path) -> Path:
    return data_dir / MCP_FILE_NAME


def load_mcp_servers(data_dir: Path) -> McpLoadResult:
    """The servers ``<data dir>/mcp.json`` configures (none when there is no file)."""
    path = mcp_file(data_dir)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return McpLoadResult(path, error=McpConfigError("the file is larger than 1 MB"))
        raw = path.read_bytes()
    except FileNotFoundError:
        return McpLoadResult(path)
    except OSError as exc:
        return McpLoadResult(path, error=McpConfigError(f"cannot be read ({exc.strerror})"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return McpLoadResult(path, error=McpConfigError("is not UTF-8 text", line))
    return parse_mcp_text(text, path)


def parse_mcp_text(text: str, path: Path = Path(MCP_FILE_NAME)) -> McpLoadResult:
    """Parse the text of an ``mcp.json`` (also what a person pastes into Settings)."""
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return McpLoadResult(path, error=McpConfigError(f"not valid JSON: {exc.msg}", exc.lineno))
    except ValueError as exc:
        return McpLoadResult(path, error=McpConfigError(str(exc)))
    return _checked(document, text, path)


def _checked(document: object, text: str, path: Path) -> McpLoadResult:
    """The servers of a parsed ``document``; an error's line is looked up in ``text``."""
    try:
        return McpLoadResult(path, servers=tuple(_servers(document)))
    except _Invalid as exc:
        error = McpConfigError(exc.message, _line_of(text, exc.server, exc.key), exc.server)
        return McpLoadResult(path, error=error)


def save_mcp_servers(data_dir: Path, servers: Sequence[McpServerConfig]) -> Path:
    """Write ``servers`` as the file's ``mcpServers``, atomically, keeping unknown keys.

    Literal secrets go to the keyring first (``SecretStoreUnavailableError`` when there
    is none: nothing is written then).
    """
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise ValueError("two servers have the same name")
    for server in servers:
        try:
            _check_name(server.name)
        except _Invalid as exc:
            raise ValueError(exc.message) from None
    stashed = [stash_secrets(server) for server in servers]
    path = mcp_file(data_dir)
    document: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(path.read_text(encoding="utf-8-sig"))
        if isinstance(loaded, dict):
            document = loaded
    document["mcpServers"] = {server.name: _entry(server) for server in stashed}
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda out: _write_text(out, text), mode=0o600)
    return path


def _write_text(out: TextIO, text: str) -> None:
    out.write(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _servers(document: object) -> list[McpServerConfig]:
    if not isinstance(document, dict):
        raise _Invalid("the file must hold a JSON object with an 'mcpServers' object")
    table = document.get("mcpServers", {})
    if not isinstance(table, dict):
        raise _Invalid("'mcpServers' must be an object of servers by name", key="mcpServers")
    return [_server(name, entry) for name, entry in table.items()]


def _check_name(name: str) -> None:
    if not name.strip() or "/" in name or len(name) > 100 or not name.isprintable():
        raise _Invalid("a server name must be 1-100 printable characters without '/'", server=name)


def _server(name: str, entry: object) -> McpServerConfig:
    _check_name(name)
    if not isinstance(entry, dict):
        raise _Invalid(f"server '{name}' must be an object", server=name)

    def fail(key: str, message: str) -> _Invalid:
        return _Invalid(f"server '{name}': {message}", server=name, key=key)

    command, url = entry.get("command"), entry.get("url")
    if command is not None and url is not None:
        raise fail("url", "give either 'command' (a program to start) or 'url', not both")
    if command is None and url is None:
        raise fail(name, "needs 'command' (a program to start) or 'url' (a remote server)")
    kind = entry.get("type", entry.get("transport"))
    if kind is not None and (not isinstance(kind, str) or kind.lower() not in _TRANSPORTS):
        key = "type" if "type" in entry else "transport"
        raise fail(key, f"unknown transport {kind!r} (use stdio, http or sse)")
    if command is not None:
        if not isinstance(command, str) or not command.strip():
            raise fail("command", "'command' must be a program name or path")
        transport = Transport.STDIO
        if kind is not None and _TRANSPORTS[kind.lower()] is not Transport.STDIO:
            raise fail("type", "a server with 'command' runs over stdio")
        if "headers" in entry:
            raise fail("headers", "'headers' apply to servers with a 'url'")
    else:
        if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url):
            raise fail("url", "'url' must start with http:// or https://")
        transport = Transport.HTTP if kind is None else _TRANSPORTS[kind.lower()]
        if transport is Transport.STDIO:
            raise fail("type", "a server with 'url' runs over http or sse")
        for key in ("args", "env", "cwd"):
            if key in entry:
                raise fail(key, f"'{key}' applies to servers with a 'command'")
    approve_key = "autoApprove" if "autoApprove" in entry else "alwaysAllow"
    return McpServerConfig(
        name=name,
        transport=transport,
        command=command,
        args=tuple(_strings(entry.get("args", []), "args", fail)),
        env=_string_map(entry.get("env", {}), "env", fail),
        cwd=_optional_string(entry.get("cwd"), "cwd", fail),
        url=url,
        headers=_string_map(entry.get("headers", {}), "headers", fail),
        disabled=_flag(entry.get("disabled", False), "disabled", fail),
        auto_approve=tuple(_strings(entry.get(approve_key, []), approve_key, fail)),
        timeout_s=_timeout(entry.get("timeout", DEFAULT_TIMEOUT_S), fail),
        extra={k: v for k, v in entry.items() if k not in _KNOWN},
    )


def _strings(value: object, key: str, fail: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(key, f"'{key}' must be a list of strings")
    return list(value)


def _string_map(value: object, key: str, fail: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise fail(key, f"'{key}' must be an object of strings")
    return dict(value)


def _optional_string(value: object, key: str, fail: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise fail(key, f"'{key}' must be a string")
    return value


def _flag(value: object, key: str, fail: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(key, f"'{key}' must be true or false")
    return value


def _timeout(value: object, fail: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_TIMEOUT_S
    ):
        raise fail(
            "timeout", f"'timeout' must be seconds, more than 0 and at most {MAX_TIMEOUT_S:g}"
        )
    return float(value)


def _entry(server: McpServerConfig) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if server.transport is Transport.STDIO:
        entry["command"] = server.command
        if server.args:
            entry["args"] = list(server.args)
        if server.env:
            entry["env"] = dict(server.env)
        if server.cwd:
            entry["cwd"] = server.cwd
    else:
        entry["url"] = server.url
        if server.transport is Transport.SSE:
            entry["type"] = "sse"
        if server.headers:
            entry["headers"] = dict(server.headers)
    if server.disabled:
        entry["disabled"] = True
    if server.auto_approve:
        entry["autoApprove"] = list(server.auto_approve)
    if server.timeout_s != DEFAULT_TIMEOUT_S:
        entry["timeout"] = server.timeout_s
    entry.update(server.extra)
    return entry


def _line_of(text: str, server: str | None, key: str | None) -> int | None:
    """The line of ``key`` inside server ``server``'s entry (best effort), else the server's."""
    at = max(text.find('"mcpServers"'), 0)  # a pasted snippet may have no wrapper
    if server is None:
        return text.count("\n", 0, at) + 1
    name = re.compile(re.escape(json.dumps(server, ensure_ascii=False)) + r"\s*:")
    found = name.search(text, at) or re.compile(re.escape(json.dumps(server)) + r"\s*:").search(
        text, at
    )
    if found is None:
        return text.count("\n", 0, at) + 1
    at = found.start()
    if key is not None and key != server:
        inner = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text, found.end())
        if inner is not None:
            at = inner.start()
    return text.count("\n", 0, at) + 1


def parse_snippet(text: str) -> McpLoadResult:
    """Servers pasted from another app: a whole file (``{"mcpServers": {...}}``), the
    servers by name (``{"time": {...}}``), or one entry (``{"command": ...}``, named
    ``server``); errors name the line of the pasted text."""
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError):
        return parse_mcp_text(text)  # the same error, with its line
    if isinstance(document, dict) and "mcpServers" not in document:
        if "command" in document or "url" in document:
            document = {"mcpServers": {"server": document}}
        else:
            document = {"mcpServers": document}
    return _checked(document, text, Path(MCP_FILE_NAME))


def probe_spec(server: McpServerConfig) -> dict[str, Any]:
    """What ``python -m chatdesk.engine.mcp_probe`` reads: the server, secrets resolved."""
    return {
        "transport": server.transport.value,
        "command": server.command,
        "args": list(server.args),
        "env": dict(server.env),
        "cwd": server.cwd,
        "url": server.url,
        "headers": dict(server.headers),
        "timeout_s": min(server.timeout_s, 60.0),
    }
