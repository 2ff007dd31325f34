"""Settings > MCP servers: the servers of ``<data dir>/mcp.json``, edited and tested.

The file stays the person's: a broken one is shown with its line and left untouched
(every editing button is off until it is fixed), unknown keys survive a save, and
secrets pasted into ``env``/``headers`` go to the keyring (``chatdesk.toolconfig``).
"Test" starts the server in a probe process (``python -m chatdesk.engine.mcp_probe``),
never on the GUI thread, and lists its tools; closing the dialog or a second Test ends
the probe and the server it started.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.secrets import SecretStoreUnavailableError
from chatdesk.toolconfig import (
    McpServerConfig,
    MissingSecretError,
    load_mcp_servers,
    parse_snippet,
    probe_spec,
    resolve_secrets,
    save_mcp_servers,
)

PROBE_GRACE_S = 15.0
"""On top of the server's own timeout: starting Python and the probe on a busy machine."""
PASTE_HINT = (
    "Paste a server from Claude Desktop, Cursor, LM Studio or Cline, e.g.\n"
    '{"time": {"command": "uvx", "args": ["mcp-server-time"]}}\n'
    'or {"docs": {"url": "https://example.com/mcp", "headers": {"Authorization": "…"}}}'
)


class ServerJsonDialog(QDialog):
    """One or more servers as JSON: pasted from another app, or one server to edit."""

    def __init__(self, parent: QWidget, title: str, text: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("mcpJsonDialog")
        self.servers: tuple[McpServerConfig, ...] = ()
        self.edit = QPlainTextEdit(self)
        self.edit.setObjectName("mcpJsonEdit")
        self.edit.setPlaceholderText(PASTE_HINT)
        self.edit.setPlainText(text)
        self.error = QLabel(self)
        self.error.setObjectName("mcpJsonError")
        self.error.setWordWrap(True)
        self.error.setProperty("role", "error")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(560, 320)

    def accept(self) -> None:
        result = parse_snippet(self.edit.toPlainText())
        if result.error is not None:
            self.error.setText(str(result.error).replace("mcp.json", "The pasted text", 1))
            return
        if not result.servers:
            self.error.setText("The pasted text names no server.")
            return
        self.servers = result.servers
        super().accept()


class McpServersDialog(QDialog):
    """The list of MCP servers, with Add (paste), Edit, Remove, enable and Test."""

    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mcpServersDialog")
        self.setWindowTitle("MCP servers")
        self.data_dir = data_dir
        self.servers: list[McpServerConfig] = []
        self.probe: QProcess | None = None
        self._probe_out = b""
        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.timeout.connect(self._probe_timed_out)
        self._build()
        self.reload()

    def _build(self) -> None:
        self.file_error = QLabel(self)
        self.file_error.setObjectName("mcpFileError")
        self.file_error.setWordWrap(True)
        self.file_error.setProperty("role", "error")
        self.file_error.hide()
        self.server_list = QListWidget(self)
        self.server_list.setObjectName("mcpServerList")
        self.server_list.itemChanged.connect(self._on_item_changed)
        self.server_list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.add_button = self._button("Paste from another app…", "mcpPasteButton", self.on_add)
        self.edit_button = self._button("Edit…", "mcpEditButton", self.on_edit)
        self.remove_button = self._button("Remove", "mcpRemoveButton", self.on_remove)
        self.test_button = self._button("Test", "mcpTestButton", self.on_test)
        self.test_status = QLabel(self)
        self.test_status.setObjectName("mcpTestStatus")
        self.test_status.setWordWrap(True)
        self.test_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tool_list = QListWidget(self)
        self.tool_list.setObjectName("mcpToolList")
        self.tool_list.setWordWrap(True)
        row = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.test_button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        note = QLabel(f"Kept in {self.data_dir / 'mcp.json'}; secrets go to the keyring.", self)
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.file_error)
        layout.addWidget(self.server_list, 2)
        layout.addLayout(row)
        layout.addWidget(self.test_status)
        layout.addWidget(self.tool_list, 3)
        layout.addWidget(close)
        self.resize(640, 520)

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # -- the list ---------------------------------------------------------------------

    def reload(self) -> None:
        result = load_mcp_servers(self.data_dir)
        self.broken = result.error is not None
        self.file_error.setVisible(self.broken)
        if result.error is not None:
            self.file_error.setText(f"{result.error}. Fix the file; nothing is changed until then.")
        self.servers = list(result.servers)
        self._fill()

    def _fill(self) -> None:
        current = self.server_list.currentRow()
        self.server_list.blockSignals(True)
        self.server_list.clear()
        for server in self.servers:
            item = QListWidgetItem(f"{server.name} — {server.target}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Unchecked if server.disabled else Qt.CheckState.Checked
            )
            item.setToolTip(
                "Enabled: its tools are offered to crews" if server.enabled else "Disabled"
            )
            self.server_list.addItem(item)
        self.server_list.blockSignals(False)
        if self.servers:
            self.server_list.setCurrentRow(min(max(current, 0), len(self.servers) - 1))
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        self.add_button.setEnabled(not self.broken)
        for button in (self.edit_button, self.remove_button):
            button.setEnabled(chosen and not self.broken)
        self.test_button.setEnabled(chosen)

    def selected(self) -> McpServerConfig | None:
        row = self.server_list.currentRow()
        return self.servers[row] if 0 <= row < len(self.servers) else None

    def _save(self, servers: list[McpServerConfig]) -> bool:
        try:
            save_mcp_servers(self.data_dir, servers)
        except (SecretStoreUnavailableError, ValueError, OSError) as exc:
            self.test_status.setText(f"Not saved: {exc}")
            return False
        self.reload()
        return True

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        row = self.server_list.row(item)
        if self.broken or not 0 <= row < len(self.servers):
            return
        disabled = item.checkState() != Qt.CheckState.Checked
        servers = list(self.servers)
        servers[row] = replace(servers[row], disabled=disabled)
        if not self._save(servers):
            self._fill()

    def on_add(self) -> None:
        dialog = ServerJsonDialog(self, "Add MCP servers")
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        names = {s.name for s in dialog.servers}
        kept = [s for s in self.servers if s.name not in names]  # same name: replaced
        self._save([*kept, *dialog.servers])

    def on_edit(self) -> None:
        server = self.selected()
        if server is None:
            return
        document = json.loads((self.data_dir / "mcp.json").read_text(encoding="utf-8-sig"))
        entry = {server.name: document["mcpServers"][server.name]}
        dialog = ServerJsonDialog(self, f"Edit {server.name}", json.dumps(entry, indent=2))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        row = self.servers.index(server)
        self._save([*self.servers[:row], *dialog.servers, *self.servers[row + 1 :]])

    def on_remove(self) -> None:
        server = self.selected()
        if server is not None:
            self._save([s for s in self.servers if s is not server])

    # -- Test -------------------------------------------------------------------------

    def on_test(self) -> None:
        server = self.selected()
        if server is None:
            return
        self.stop_probe()
        self.tool_list.clear()
        try:
            spec = probe_spec(resolve_secrets(server))
        except MissingSecretError as exc:
            self.test_status.setText(str(exc))
            return
        self.test_status.setText(f"Starting {server.name}…")
        probe = QProcess(self)
        probe.setProgram(sys.executable)
        probe.setArguments(["-m", "chatdesk.engine.mcp_probe"])
        probe.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        probe.setStandardErrorFile(QProcess.nullDevice())
        probe.readyReadStandardOutput.connect(self._on_probe_output)
        probe.errorOccurred.connect(self._on_probe_error)
        self.probe, self._probe_out = probe, b""
        probe.start()
        probe.write((json.dumps(spec) + "\n").encode())
        self._probe_timer.start(int((spec["timeout_s"] + PROBE_GRACE_S) * 1000))

    def _on_probe_output(self) -> None:
        probe = self.probe
        if probe is None:
            return
        self._probe_out += bytes(probe.readAllStandardOutput().data())
        if b"\n" not in self._probe_out:
            return
        line = self._probe_out.split(b"\n", 1)[0]
        self.stop_probe()
        try:
            result = json.loads(line)
        except ValueError:
            self.test_status.setText("The test ended without an answer.")
            return
        if not result.get("ok"):
            self.test_status.setText(f"Could not start: {result.get('error', 'unknown error')}")
            return
        tools = result.get("tools", [])
        self.test_status.setText(f"Started; it offers {len(tools)} tool(s).")
        for tool in tools:
            schema = json.dumps(tool.get("input_schema", {}), indent=2)
            item = QListWidgetItem(f"{tool['name']} — {tool.get('description', '')}")
            item.setToolTip(schema)
            self.tool_list.addItem(item)

    def _on_probe_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.stop_probe()
            self.test_status.setText("The test could not start Python for the probe.")

    def _probe_timed_out(self) -> None:
        self.stop_probe()
        self.test_status.setText("The server did not answer in time.")

    def stop_probe(self) -> None:
        """End the probe: closing its stdin ends its process group (and the server)."""
        self._probe_timer.stop()
        probe, self.probe = self.probe, None
        if probe is None:
            return
        probe.readyReadStandardOutput.disconnect(self._on_probe_output)
        probe.errorOccurred.disconnect(self._on_probe_error)
        probe.closeWriteChannel()
        if not probe.waitForFinished(3000):
            probe.kill()
            probe.waitForFinished(3000)
        probe.deleteLater()

    def done(self, result: int) -> None:
        self.stop_probe()
        super().done(result)
