"""The MCP servers a person configured, read from and written to ``<data dir>/mcp.json``.

A helper package: it imports no layer of chatdesk (the window's Settings page and the
run coordinator both read it), only the shared helpers and the keyring.
"""

from chatdesk.toolconfig.mcp_file import (
    MCP_FILE_NAME,
    McpConfigError,
    McpLoadResult,
    load_mcp_servers,
    parse_snippet,
    probe_spec,
    save_mcp_servers,
)
from chatdesk.toolconfig.secret_refs import MissingSecretError, resolve_secrets
from chatdesk.toolconfig.server_config import McpServerConfig, Transport

__all__ = [
    "MCP_FILE_NAME",
    "McpConfigError",
    "McpLoadResult",
    "McpServerConfig",
    "MissingSecretError",
    "Transport",
    "load_mcp_servers",
    "parse_snippet",
    "probe_spec",
    "resolve_secrets",
    "save_mcp_servers",
]
