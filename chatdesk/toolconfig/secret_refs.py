"""Secrets of MCP servers live in the OS keyring; ``mcp.json`` holds references to them.

A reference is a whole value of ``env`` or ``headers``: ``${keyring:<account>}`` (a
secret chatdesk keeps, saved from the Settings page) or ``${env:<NAME>}`` (from the
environment chatdesk was started in, for people who keep secrets in their shell).
When a server is saved, a literal value whose name says it is a secret (KEY, TOKEN,
SECRET, PASSWORD, AUTH, ...) is moved to the keyring and replaced by its reference, so
the file (and anything that copies it) never holds it. Every value resolved is
registered for redaction: a tool server echoing its token gets it masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from chatdesk.redact import register_secret
from chatdesk.secrets import read_secret, write_secret
from chatdesk.toolconfig.server_config import McpServerConfig

_REFERENCE = re.compile(r"\$\{(?P<kind>keyring|env):(?P<name>[^}]+)\}")
_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS\b|AUTH|CREDENTIAL|COOKIE|SESSION|PRIVATE",
    re.IGNORECASE,
)


class MissingSecretError(LookupError):
    """A reference that points at nothing: the keyring entry or variable is gone."""


def is_secret_name(name: str) -> bool:
    """Whether a variable or header of this name holds a secret."""
    return bool(_SECRET_NAME.search(name))


def keyring_account(server: str, part: str, name: str) -> str:
    return f"mcp/{server}/{part}/{name}"


def is_reference(value: str) -> bool:
    return _REFERENCE.fullmatch(value) is not None


def stash_secrets(
    server: McpServerConfig, write: Callable[[str, str | None], None] = write_secret
) -> McpServerConfig:
    """``server`` with each literal secret moved into the keyring and referenced instead."""

    def stashed(part: str, values: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in values.items():
            if value and is_secret_name(name) and not is_reference(value):
                account = keyring_account(server.name, part, name)
                write(account, value)
                value = f"${{keyring:{account}}}"
            out[name] = value
        return out

    return replace(
        server, env=stashed("env", server.env), headers=stashed("headers", server.headers)
    )


def resolve_secrets(
    server: McpServerConfig,
    environ: Mapping[str, str] | None = None,
    read: Callable[[str], str | None] = read_secret,
) -> McpServerConfig:
    """``server`` with every reference replaced by its value (``MissingSecretError``)."""
    source = os.environ if environ is None else environ

    def resolved(part: str, values: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in values.items():
            match = _REFERENCE.fullmatch(value)
            if match is not None:
                kind, ref = match.group("kind"), match.group("name")
                found = source.get(ref) if kind == "env" else read(ref)
                if not found:
                    where = "environment variable" if kind == "env" else "keyring entry"
                    raise MissingSecretError(
                        f"MCP server '{server.name}': {part} '{name}' refers to the {where} "
                        f"'{ref}', which is not set"
                    )
                value = found
                register_secret(value)
            elif is_secret_name(name):
                register_secret(value)
            out[name] = value
        return out

    return replace(
        server, env=resolved("env", server.env), headers=resolved("headers", server.headers)
    )
