"""``<data dir>/mcp.json``: the file people already have, read and written faithfully."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chatdesk.redact import redact
from chatdesk.secrets import SecretStoreUnavailableError
from chatdesk.toolconfig import (
    McpServerConfig,
    MissingSecretError,
    Transport,
    load_mcp_servers,
    resolve_secrets,
    save_mcp_servers,
)
from tests.support.keyrings import MemoryKeyring, memory_keyring, no_keyring

__all__ = ["memory_keyring", "no_keyring"]

CLAUDE_DESKTOP = """{
  "theme": "dark",
  "mcpServers": {
    "time": {
      "command": "uvx",
      "args": ["mcp-server-time", "--local-timezone=Europe/Paris"]
    },
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${env:GH_TOKEN}", "LOG_LEVEL": "info"},
      "disabled": true,
      "alwaysAllow": ["search_repositories"],
      "x-cursor-note": {"kept": [1, 2]}
    },
    "remote": {
      "url": "https://mcp.example.com/sse",
      "type": "sse",
      "headers": {"Authorization": "${keyring:mcp/remote/headers/Authorization}"},
      "autoApprove": ["ping"],
      "timeout": 15
    },
    "docs": {"url": "http://127.0.0.1:8931/mcp"}
  }
}
"""


def _write(data: Path, text: str) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / "mcp.json").write_text(text, encoding="utf-8")


def test_every_form_people_have_is_read(tmp_path: Path) -> None:
    _write(tmp_path, CLAUDE_DESKTOP)
    result = load_mcp_servers(tmp_path)
    assert result.error is None
    by_name = {s.name: s for s in result.servers}
    assert list(by_name) == ["time", "github", "remote", "docs"]  # the file's order
    assert by_name["time"].transport is Transport.STDIO
    assert by_name["time"].target == "uvx mcp-server-time --local-timezone=Europe/Paris"
    github = by_name["github"]
    assert github.disabled and github.auto_approve == ("search_repositories",)  # Roo's key
    assert github.extra == {"x-cursor-note": {"kept": [1, 2]}}
    assert by_name["remote"].transport is Transport.SSE and by_name["remote"].timeout_s == 15
    assert by_name["docs"].transport is Transport.HTTP  # a URL is streamable HTTP by default
    assert [s.name for s in result.enabled] == ["time", "remote", "docs"]


def test_no_file_is_no_servers_and_no_error(tmp_path: Path) -> None:
    result = load_mcp_servers(tmp_path)
    assert result.servers == () and result.error is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}', 3, "not valid JSON"),
        ('{"mcpServers": []}', 1, "'mcpServers' must be an object"),
        (
            '{\n"mcpServers": {\n"a": {"command": "x"},\n"b": {\n"command": "y",\n"args": "z"}}}',
            6,
            "'args' must be a list",
        ),
        ('{\n"mcpServers": {\n"a": {\n"url": "https://h/x",\n"command": "y"}}}', 4, "not both"),
        ('{\n"mcpServers": {\n\n"lonely": {}}}', 4, "needs 'command'"),
        ('{"mcpServers": {"a": {"url": "file:///etc/passwd"}}}', 1, "http:// or https://"),
        ('{"mcpServers": {"a": {"command": "x", "timeout": 0}}}', 1, "'timeout' must be"),
        ('{"mcpServers": {"a": {"command": "x", "timeout": NaN}}}', None, "NaN is not allowed"),
        (
            '{"mcpServers": {"a": {"command": "x", "type": "carrier-pigeon"}}}',
            1,
            "unknown transport",
        ),
        ('{"mcpServers": {"a/b": {"command": "x"}}}', 1, "without '/'"),
        ('{"mcpServers": {"a": {"command": "x", "disabled": "yes"}}}', 1, "true or false"),
        ('{"mcpServers": {"a": {"url": "https://h", "env": {}}}}', 1, "'env' applies"),
        ("[1, 2]", 1, "must hold a JSON object"),
    ],
)
def test_a_broken_file_names_its_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    _write(tmp_path, text)
    result = load_mcp_servers(tmp_path)
    assert result.servers == ()
    assert result.error is not None and words in str(result.error), result.error
    assert result.error.line == line
    if line is not None:
        assert str(result.error).startswith(f"mcp.json, line {line}: ")


def test_bytes_that_are_not_text_are_an_error_not_a_crash(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "mcp.json").write_bytes(b'{"mcpServers":\n {"\xff": {}}}')
    result = load_mcp_servers(tmp_path)
    assert result.error is not None and "not UTF-8" in str(result.error)
    assert result.error.line == 2


def test_writing_back_keeps_what_chatdesk_does_not_know(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    _write(tmp_path, CLAUDE_DESKTOP)
    servers = list(load_mcp_servers(tmp_path).servers)
    servers[0] = McpServerConfig(
        "time", Transport.STDIO, command="uvx", args=("mcp-server-time",), disabled=True
    )
    path = save_mcp_servers(tmp_path, servers)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["theme"] == "dark"  # another app's key at the top
    assert document["mcpServers"]["github"]["x-cursor-note"] == {"kept": [1, 2]}
    assert document["mcpServers"]["time"] == {
        "command": "uvx",
        "args": ["mcp-server-time"],
        "disabled": True,
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".mcp.json.*"))  # no temporary file left behind
    again = load_mcp_servers(tmp_path)
    assert again.error is None and again.servers[1:] == tuple(servers[1:])


def test_a_pasted_secret_goes_to_the_keyring_never_to_the_file(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    token = "ghp_" + "x" * 36
    server = McpServerConfig(
        "github",
        Transport.STDIO,
        command="npx",
        env={"GITHUB_PERSONAL_ACCESS_TOKEN": token, "LOG_LEVEL": "debug"},
    )
    path = save_mcp_servers(tmp_path, [server])
    text = path.read_text(encoding="utf-8")
    assert token not in text and "LOG_LEVEL" in text and '"debug"' in text
    assert "${keyring:mcp/github/env/GITHUB_PERSONAL_ACCESS_TOKEN}" in text
    assert token in memory_keyring.passwords.values()
    loaded = load_mcp_servers(tmp_path).servers[0]
    resolved = resolve_secrets(loaded, environ={})
    assert resolved.env == {"GITHUB_PERSONAL_ACCESS_TOKEN": token, "LOG_LEVEL": "debug"}
    assert token not in repr(resolved)  # never in a log line by accident
    assert token not in redact(f"the server said {token}")  # echoed back, masked


def test_without_a_keyring_a_secret_is_not_written_at_all(tmp_path: Path, no_keyring: None) -> None:
    server = McpServerConfig(
        "s", Transport.HTTP, url="https://h/mcp", headers={"Authorization": "Bearer abc"}
    )
    with pytest.raises(SecretStoreUnavailableError):
        save_mcp_servers(tmp_path, [server])
    assert not (tmp_path / "mcp.json").exists()


def test_a_reference_to_nothing_says_which(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    _write(tmp_path, CLAUDE_DESKTOP)
    github = load_mcp_servers(tmp_path).servers[1]
    with pytest.raises(MissingSecretError, match="environment variable 'GH_TOKEN'"):
        resolve_secrets(github, environ={})
    assert (
        resolve_secrets(github, environ={"GH_TOKEN": "t0k"}).env["GITHUB_PERSONAL_ACCESS_TOKEN"]
        == "t0k"
    )
    remote = load_mcp_servers(tmp_path).servers[2]
    with pytest.raises(MissingSecretError, match="keyring entry"):
        resolve_secrets(remote, environ={})


def test_two_servers_of_one_name_are_refused(tmp_path: Path) -> None:
    one = McpServerConfig("a", Transport.STDIO, command="x")
    with pytest.raises(ValueError, match="same name"):
        save_mcp_servers(tmp_path, [one, one])
