"""Settings > MCP servers, driven as a person would: paste, toggle, test, a broken file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from chatdesk.ui.setup import mcp_servers_dialog
from chatdesk.ui.setup.mcp_servers_dialog import McpServersDialog, ServerJsonDialog
from tests.support.keyrings import MemoryKeyring, memory_keyring

__all__ = ["memory_keyring"]

REPO = Path(__file__).resolve().parents[2]
BASIC = {
    "command": sys.executable,
    "args": ["-m", "tests.support.mcp_servers.basic_server"],
    "cwd": str(REPO),
}


def _dialog(qtbot: QtBot, data: Path) -> McpServersDialog:
    data.mkdir(parents=True, exist_ok=True)
    dialog = McpServersDialog(data)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _paste(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """The paste dialog, answered with ``text`` and OK."""

    def exec_(self: ServerJsonDialog) -> int:
        self.edit.setPlainText(text)
        self.accept()
        return self.result()

    monkeypatch.setattr(ServerJsonDialog, "exec", exec_)


def test_a_pasted_server_is_saved_with_its_secret_in_the_keyring(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    data = tmp_path / "data"
    dialog = _dialog(qtbot, data)
    snippet = {"mcpServers": {"basic": {**BASIC, "env": {"API_TOKEN": "s3cr3t-t0ken"}}}}
    _paste(monkeypatch, json.dumps(snippet))
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert dialog.server_list.count() == 1
    assert dialog.server_list.item(0).text().startswith("basic — ")
    text = (data / "mcp.json").read_text(encoding="utf-8")
    assert "s3cr3t-t0ken" not in text and "${keyring:mcp/basic/env/API_TOKEN}" in text
    # switching it off is written at once
    dialog.server_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert json.loads((data / "mcp.json").read_text())["mcpServers"]["basic"]["disabled"] is True


def test_a_bad_paste_says_which_line_and_saves_nothing(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = _dialog(qtbot, tmp_path / "data")
    paste = ServerJsonDialog(dialog, "Add")
    qtbot.addWidget(paste)
    paste.edit.setPlainText('{\n  "a": {\n    "command": 7\n  }\n}')
    paste.accept()
    assert paste.result() != QDialog.DialogCode.Accepted
    assert (
        paste.error.text()
        == "The pasted text, line 3: server 'a': 'command' must be a program name or path"
    )
    assert not (tmp_path / "data" / "mcp.json").exists()


def test_a_broken_file_is_shown_and_left_alone(qtbot: QtBot, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    broken = '{\n  "mcpServers": {\n    "a": {"command": "x"},,\n  }\n}\n'
    (data / "mcp.json").write_text(broken)
    dialog = _dialog(qtbot, data)
    assert dialog.file_error.isVisible()
    assert dialog.file_error.text().startswith("mcp.json, line 3: not valid JSON")
    assert not dialog.add_button.isEnabled() and not dialog.remove_button.isEnabled()
    assert (data / "mcp.json").read_text() == broken


def test_test_lists_the_tools_of_a_real_server(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = _dialog(qtbot, tmp_path / "data")
    _paste(monkeypatch, json.dumps({"basic": BASIC}))
    dialog.on_add()
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "tool(s)" in dialog.test_status.text(), timeout=60_000)
    names = [
        dialog.tool_list.item(n).text().split(" — ")[0] for n in range(dialog.tool_list.count())
    ]
    assert {"echo", "add", "hang", "crash"} <= set(names)
    assert dialog.probe is None  # the probe and its server are gone


def test_a_hung_server_times_out_and_closing_ends_it(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_servers_dialog, "PROBE_GRACE_S", 60.0)
    dialog = _dialog(qtbot, tmp_path / "data")
    hang = {"command": sys.executable, "args": ["-c", "import time; time.sleep(120)"], "timeout": 1}
    _paste(monkeypatch, json.dumps({"mute": hang}))
    dialog.on_add()
    dialog.on_test()
    qtbot.waitUntil(lambda: "did not answer in time" in dialog.test_status.text(), timeout=60_000)
    dialog.on_test()  # again, then close while it waits: nothing may be left running
    dialog.close()
    assert dialog.probe is None
