"""The chat header's "Tools" menu: switch servers and single tools off for this chat, and
take back "Allow for this chat".

Why a menu built when it opens: mcp.json may have changed and the worker may have listed
the servers' tools since; reading both then costs a ``stat`` and a small query.
Every change goes through ``ToolRuleService`` and applies from the chat's next run.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from chatdesk.runs.tool_access import ServerTools
from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.vocabulary import ToolRule

NO_SERVERS = "No MCP servers are set up (Settings → Tools)"
TOOLS_TEXT = "Tools"

Catalog = Callable[[], list[ServerTools]]


class ToolMenuButton(QToolButton):
    """``threadToolsButton``: the open chat's tools, on and off.

    Signals:
        error(str): a change could not be saved (for the person).
    """

    error = Signal(str)

    def __init__(self, services: Services, user_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("threadToolsButton")
        self.setAccessibleName("Tools of this chat")
        self.setToolTip("Which MCP tools this chat's crew may use, and which run without asking")
        self.setText(TOOLS_TEXT)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._services = services
        self._user_id = user_id
        self._thread_id: int | None = None
        self._catalog: Catalog = list
        self.tool_menu = QMenu(self)
        self.tool_menu.setObjectName("threadToolsMenu")
        self.tool_menu.aboutToShow.connect(self.fill)
        self.setMenu(self.tool_menu)

    def set_catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.set_thread(self._thread_id)

    def set_thread(self, thread_id: int | None) -> None:
        """Follow the open chat; shown only when mcp.json has servers (Settings → Tools
        is where they are added)."""
        self._thread_id = thread_id
        self.setVisible(bool(self._catalog()))

    def fill(self) -> None:
        """(Re)build the menu for the open chat."""
        menu = self.tool_menu
        menu.clear()
        thread_id = self._thread_id
        servers = self._catalog()
        if thread_id is None or not servers:
            menu.addAction(NO_SERVERS).setEnabled(False)
            return
        try:
            rules = self._services.tool_rules.rules(self._user_id, thread_id)
        except ServiceError as exc:
            menu.addAction(f"Cannot read this chat's tools: {exc}").setEnabled(False)
            return
        menu.addSection("Tools in this chat")
        for server in servers:
            server_on = server.name not in rules.disabled
            self._switch(menu, server.name, server.name, server_on, True)
            if server.error:
                menu.addAction(f"      could not start: {server.error[:80]}").setEnabled(False)
            for tool in server.tools:
                ref = f"{server.name}/{tool}"
                self._switch(menu, f"      {tool}", ref, ref not in rules.disabled, server_on)
        if rules.approved:
            menu.addSection("Run without asking in this chat")
            for ref in sorted(rules.approved):
                action = menu.addAction(f"Ask again before {ref}")
                action.setObjectName(f"revoke:{ref}")
                action.triggered.connect(
                    lambda _=False, r=ref: self._set(r, ToolRule.APPROVED, False)
                )

    def _switch(self, menu: QMenu, label: str, ref: str, on: bool, enabled: bool) -> QAction:
        action = menu.addAction(label)
        action.setObjectName(f"switch:{ref}")
        action.setCheckable(True)
        action.setChecked(on)
        action.setEnabled(enabled)
        action.toggled.connect(lambda checked, r=ref: self._set(r, ToolRule.DISABLED, not checked))
        return action

    def _set(self, ref: str, rule: ToolRule, on: bool) -> None:
        if self._thread_id is None:
            return
        try:
            self._services.tool_rules.set_rule(self._user_id, self._thread_id, ref, rule, on)
        except ServiceError as exc:
            self.error.emit(f"Could not change the tools of this chat: {exc}")
