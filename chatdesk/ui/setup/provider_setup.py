"""The friendly card shown in an empty chat while no model is configured.

chatdesk opens and browses everything without a model; this card explains what is
missing, opens Settings, and lists the model servers found on this computer (the
probe runs in the background), each with a one-click "Use".
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from chatdesk.runs.providers import LocalServer
from chatdesk.ui.scaled_font import keep_scaled
from chatdesk.ui.setup.local_probe import LocalServerProbe

TITLE = "Connect a model to get replies"
BODY = (
    "You can read, search and write chats right now. For answers chatdesk needs a "
    "language model: a server on this computer such as Ollama or LM Studio, or a "
    "cloud provider with an API key."
)
LOOKING = "Looking for model servers on this computer…"
NONE_FOUND = (
    "No model server found on this computer (Ollama, LM Studio or llama.cpp on their usual ports)."
)
MAX_MODELS_SHOWN = 3


def server_summary(server: LocalServer) -> str:
    """``Ollama — llama3.2, qwen2.5 and 3 more`` (plain text)."""
    models = list(server.models[:MAX_MODELS_SHOWN])
    more = len(server.models) - len(models)
    if not models:
        return f"{server.label} — no models installed yet"
    text = ", ".join(models) + (f" and {more} more" if more > 0 else "")
    return f"{server.label} — {text}"


class ProviderSetupCard(QFrame):
    """Explains how to set up a model; lists local servers as the probe finds them.

    Signals:
        settings_requested: "Open Settings" was clicked.
        use_server_requested: "Use" was clicked for this server (LocalServer).
    """

    settings_requested = Signal()
    use_server_requested = Signal(object)

    def __init__(self, probe: LocalServerProbe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("providerSetup")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setAccessibleName("No model configured")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self._probe = probe
        self._servers: list[LocalServer] = []

        self.title = QLabel(TITLE, self)
        self.title.setObjectName("providerSetupTitle")
        keep_scaled(self.title, +1.5, bold=True)
        self.body = QLabel(BODY, self)
        self.body.setObjectName("providerSetupBody")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.settings_button = QPushButton("Open Settings…", self)
        self.settings_button.setObjectName("openSettingsButton")
        self.settings_button.setAccessibleName("Open Settings")
        self.settings_button.setToolTip("Settings (Ctrl+,)")
        self.settings_button.setCursor(Qt.CursorShape.PointingHandCursor)

        self.status = QLabel(LOOKING, self)
        self.status.setObjectName("localServersStatus")
        self.status.setProperty("muted", True)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.rescan_button = QPushButton("Look again", self)
        self.rescan_button.setObjectName("rescanButton")
        self.rescan_button.setAccessibleName("Look again for local model servers")
        self.rescan_button.setFlat(True)
        self.rescan_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.server_rows = QVBoxLayout()
        self.server_rows.setSpacing(6)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.settings_button)
        buttons.addStretch(1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.rescan_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.setSpacing(10)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        layout.addLayout(buttons)
        layout.addSpacing(4)
        layout.addLayout(status_row)
        layout.addLayout(self.server_rows)

        self.settings_button.clicked.connect(self.settings_requested)
        self.rescan_button.clicked.connect(self.rescan)
        probe.started.connect(self.on_probe_started)
        probe.finished.connect(self.on_servers_found)
        if probe.servers is not None:
            self.on_servers_found(probe.servers)

    @property
    def servers(self) -> list[LocalServer]:
        """The servers listed now."""
        return list(self._servers)

    def rescan(self) -> None:
        self._probe.start()

    def on_probe_started(self) -> None:
        self.status.setText(LOOKING)
        self.rescan_button.setEnabled(False)

    def on_servers_found(self, servers: list[LocalServer]) -> None:
        self._servers = list(servers)
        self.rescan_button.setEnabled(True)
        while self.server_rows.count():
            item = self.server_rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.status.setText("Found on this computer:" if servers else NONE_FOUND)
        for server in servers:
            self.server_rows.addWidget(self._server_row(server))

    def _server_row(self, server: LocalServer) -> QWidget:
        row = QWidget(self)
        row.setObjectName("localServerRow")
        label = QLabel(server_summary(server), row)
        label.setObjectName("localServerLabel")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setWordWrap(True)
        use = QPushButton("Use", row)
        use.setObjectName("useServerButton")
        use.setAccessibleName(f"Use {server.label}")
        use.setCursor(Qt.CursorShape.PointingHandCursor)
        use.setEnabled(bool(server.models))
        use.clicked.connect(lambda _checked=False, s=server: self.use_server_requested.emit(s))
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(label, 1)
        layout.addWidget(use)
        return row
