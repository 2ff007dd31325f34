"""Light and dark looks: one palette, one small style sheet, one set of bubble colours.

Everything that paints (delegates, the Markdown renderer) takes its colours from the
``Colors`` of the current theme instead of hard-coding them, so switching theme is a
repaint, not a rebuild of widgets. "System" follows the platform's colour scheme and
tracks it when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


class ThemeMode(StrEnum):
    """What the person chose."""

    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


@dataclass(frozen=True)
class Colors:
    """The colours of one theme (CSS hex strings, so they also serve rich text)."""

    dark: bool
    window: str
    sidebar: str
    chat: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    user_bubble: str
    user_text: str
    user_muted: str
    user_link: str
    assistant_bubble: str
    assistant_border: str
    code_bg: str
    inline_code_bg: str
    link: str
    rule: str  # a neutral line: quote bars, scroll bar handles
    error: str
    selection: str
    hover: str
    pygments_style: str

    def q(self, name: str) -> QColor:
        """A colour as a QColor by attribute name, e.g. ``colors.q("accent")``."""
        return QColor(str(getattr(self, name)))


LIGHT = Colors(
    dark=False,
    window="#f7f7f8",
    sidebar="#f0f1f3",
    chat="#ffffff",
    text="#1f2328",
    muted="#5b6270",
    border="#dfe1e5",
    accent="#2563eb",
    accent_text="#ffffff",
    user_bubble="#2563eb",
    user_text="#ffffff",
    user_muted="#eef3ff",
    user_link="#ffffff",
    assistant_bubble="#f3f4f6",
    assistant_border="#e5e7eb",
    code_bg="#fbfbfc",
    inline_code_bg="#e6e8eb",
    link="#1d4ed8",
    rule="#c9ccd3",
    error="#b42318",
    selection="#dbe6ff",
    hover="#e6e8ec",
    pygments_style="default",
)

DARK = Colors(
    dark=True,
    window="#1e1f22",
    sidebar="#191a1d",
    chat="#232428",
    text="#e3e5e8",
    muted="#a3a9b1",
    border="#34363c",
    accent="#63a0fa",
    accent_text="#0d1726",
    user_bubble="#2f5fc4",
    user_text="#f5f8ff",
    user_muted="#e3eafc",
    user_link="#ffffff",
    assistant_bubble="#2d2f34",
    assistant_border="#383a40",
    code_bg="#1b1c1f",
    inline_code_bg="#3a3d44",
    link="#8ab4f8",
    rule="#4a4d55",
    error="#f97066",
    selection="#2c3a55",
    hover="#2a2c31",
    pygments_style="github-dark",
)


def user_bubble_colors(c: Colors) -> Colors:
    """The colours Markdown inside a person's own bubble is drawn with.

    The bubble is the accent colour with light text, so code takes the dark theme's code
    colours (light text on a dark block, a dark highlighting style) and inline code a
    darker shade of the bubble: the light theme's near-white code block would hide the
    bubble's white text.
    """
    return replace(
        c,
        text=c.user_text,
        muted=c.user_muted,
        link=c.user_link,
        rule=c.user_muted,
        border=DARK.border,
        code_bg=DARK.code_bg,
        inline_code_bg="#1d47a8" if not c.dark else "#234a9c",
        pygments_style=DARK.pygments_style,
    )


def system_prefers_dark() -> bool:
    """True when the platform asks for a dark colour scheme."""
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def build_palette(c: Colors) -> QPalette:
    """A complete palette for Fusion, so native widgets match the painted ones."""
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor(c.window))
    p.setColor(role.WindowText, QColor(c.text))
    p.setColor(role.Base, QColor(c.chat))
    p.setColor(role.AlternateBase, QColor(c.sidebar))
    p.setColor(role.Text, QColor(c.text))
    p.setColor(role.PlaceholderText, QColor(c.muted))
    p.setColor(role.Button, QColor(c.window if not c.dark else "#2b2d31"))
    p.setColor(role.ButtonText, QColor(c.text))
    p.setColor(role.BrightText, QColor(c.error))
    p.setColor(role.Highlight, QColor(c.accent))
    p.setColor(role.HighlightedText, QColor(c.accent_text))
    p.setColor(role.Link, QColor(c.link))
    p.setColor(role.LinkVisited, QColor(c.link))
    p.setColor(role.ToolTipBase, QColor(c.chat))
    p.setColor(role.ToolTipText, QColor(c.text))
    p.setColor(role.Mid, QColor(c.border))
    p.setColor(role.Midlight, QColor(c.hover))
    p.setColor(role.Light, QColor(c.chat))
    p.setColor(role.Dark, QColor(c.border))
    p.setColor(role.Shadow, QColor("#000000"))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(disabled, r, QColor(c.muted))
    p.setColor(disabled, role.Button, QColor(c.hover))
    return p


def style_sheet(c: Colors) -> str:
    """A few rules for the composer, search field and buttons; the rest is palette."""
    return f"""
    #sidebar {{ background: {c.sidebar}; }}
    #chatPane, #messageList, #emptyHint {{ background: {c.chat}; }}
    #messageList {{ border: none; }}
    #threadList {{ background: {c.sidebar}; border: none; }}
    #messageSearchResults {{ background: {c.sidebar}; border: none; }}
    #threadSearch {{
        border: 1px solid {c.border}; border-radius: 8px; padding: 5px 8px;
        background: {c.chat}; color: {c.text};
    }}
    #threadSearch:focus {{ border-color: {c.accent}; }}
    #newThreadButton {{
        border: 1px solid {c.border}; border-radius: 8px; padding: 5px 10px;
        background: {c.chat}; color: {c.text};
    }}
    #newThreadButton:hover {{ background: {c.hover}; }}
    #composerFrame {{
        border: 1px solid {c.border}; border-radius: 12px; background: {c.chat};
    }}
    #composerFrame[focused="true"] {{ border-color: {c.accent}; }}
    #composer {{ border: none; background: transparent; color: {c.text}; }}
    #sendButton {{
        border: none; border-radius: 8px; padding: 6px 14px;
        background: {c.accent}; color: {c.accent_text}; font-weight: 600;
    }}
    #sendButton:disabled {{ background: {c.hover}; color: {c.muted}; }}
    #sendButton:focus, #openSettingsButton:focus {{ border: 2px solid {c.text}; }}
    #newThreadButton:focus, #stopButton:focus, #systemPromptButton:focus,
    #threadToolsButton:focus,
    #useServerButton:focus {{ border-color: {c.accent}; }}
    #stopButton {{
        border: 1px solid {c.border}; border-radius: 8px; padding: 6px 12px;
        background: {c.chat}; color: {c.text};
    }}
    #stopButton:hover {{ background: {c.hover}; }}
    #composerError {{ color: {c.error}; }}
    #composerError[waiting="true"] {{ color: {c.muted}; }}
    #emptyHint, #threadListEmpty {{ color: {c.muted}; }}
    #searchStatus, #searchResultsHeader {{ color: {c.muted}; }}
    #toast {{
        /* the window's inverse (as snackbars are): it stands out in either theme */
        background: {"#e8eaed" if c.dark else "#1f2328"}; border-radius: 10px;
    }}
    #toast QLabel {{ color: {"#1f2328" if c.dark else "#f5f5f5"}; }}
    #toast QPushButton {{
        border: none; color: {"#1a56c9" if c.dark else "#93b4ff"}; font-weight: 600;
        padding: 4px 8px; background: transparent;
    }}
    #importPanel {{
        border: 1px solid {c.border}; border-radius: 10px; background: {c.window};
    }}
    #importStatus {{ color: {c.text}; background: transparent; }}
    #importProgress {{ border: none; border-radius: 3px; background: {c.hover}; }}
    #importProgress::chunk {{ border-radius: 3px; background: {c.accent}; }}
    #importCancelButton {{
        border: 1px solid {c.border}; border-radius: 8px; padding: 5px 12px;
        background: {c.chat}; color: {c.text};
    }}
    #importCancelButton:hover {{ background: {c.hover}; }}
    #importCancelButton:focus {{ border-color: {c.accent}; }}
    #importCancelButton:disabled {{ color: {c.muted}; }}
    QSplitter::handle {{ background: {c.border}; }}
    QDialogButtonBox {{ dialogbuttonbox-buttons-have-icons: 0; }}
    QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}
    QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; }}
    QScrollBar::handle {{ background: {c.rule}; border-radius: 3px; margin: 2px; }}
    QScrollBar::handle:vertical {{ min-height: 32px; }}
    QScrollBar::handle:horizontal {{ min-width: 32px; }}
    QScrollBar::handle:hover, QScrollBar::handle:pressed {{ background: {c.muted}; }}
    QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; border: none; }}
    QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
    #emptyPage {{ background: {c.chat}; }}
    #threadHeader {{ background: {c.chat}; border: none; border-bottom: 1px solid {c.border}; }}
    #threadTitle {{ color: {c.text}; }}
    #threadToolsButton {{
        border: 1px solid {c.border}; border-radius: 6px; padding: 3px 8px;
        background: {c.chat}; color: {c.text};
    }}
    #threadToolsButton::menu-indicator {{ image: none; width: 0; }}
    #threadToolsButton:hover {{ background: {c.hover}; }}
    #systemPromptButton {{
        border: 1px solid {c.border}; border-radius: 6px; padding: 3px 8px;
        background: {c.chat}; color: {c.text};
    }}
    #systemPromptButton:hover {{ background: {c.hover}; }}
    #systemPromptButton[active="true"] {{ border-color: {c.accent}; color: {c.accent}; }}
    #providerSetup {{
        border: 1px solid {c.border}; border-radius: 12px; background: {c.window};
    }}
    #providerSetup QLabel {{ background: transparent; }}
    #providerSetupTitle {{ color: {c.text}; }}
    #providerSetupBody {{ color: {c.text}; }}
    #openSettingsButton {{
        border: none; border-radius: 8px; padding: 6px 14px;
        background: {c.accent}; color: {c.accent_text}; font-weight: 600;
    }}
    #useServerButton {{
        border: 1px solid {c.accent}; border-radius: 6px; padding: 3px 12px;
        background: transparent; color: {c.accent}; font-weight: 600;
    }}
    #useServerButton:hover {{ background: {c.selection}; }}
    #rescanButton {{ border: none; color: {c.link}; padding: 2px 4px; background: transparent; }}
    #rescanButton:disabled {{ color: {c.muted}; }}
    QLabel[muted="true"] {{ color: {c.muted}; }}
    #settingsError {{ color: {c.error}; }}
    #toolApproval {{
        border: 1px solid {c.accent}; border-radius: 10px; background: {c.window};
    }}
    #toolApproval QLabel {{ background: transparent; color: {c.text}; }}
    #bubbleEditor {{
        border: 1px solid {c.accent}; border-radius: 12px; background: {c.chat};
    }}
    #bubbleEditText {{ border: none; background: transparent; color: {c.text}; }}
    #bubbleEditSend {{
        border: none; border-radius: 8px; padding: 5px 14px;
        background: {c.accent}; color: {c.accent_text}; font-weight: 600;
    }}
    #toolApproval QLabel[muted="true"] {{ color: {c.muted}; }}
    #toolApprovalArguments {{
        border: 1px solid {c.border}; border-radius: 6px; background: {c.chat}; color: {c.text};
    }}
    #toolAllowOnce {{
        border: none; border-radius: 8px; padding: 6px 14px;
        background: {c.accent}; color: {c.accent_text}; font-weight: 600;
    }}
    #toolAllowChat, #toolDeny {{
        border: 1px solid {c.border}; border-radius: 8px; padding: 6px 12px;
        background: {c.chat}; color: {c.text};
    }}
    #toolAllowChat:hover, #toolDeny:hover {{ background: {c.hover}; }}
    #toolAllowOnce:focus {{ border: 2px solid {c.text}; }}
    #toolAllowChat:focus, #toolDeny:focus {{ border-color: {c.accent}; }}
    """


class ThemeManager(QObject):
    """Owns the current theme and applies it to the application.

    Signals:
        changed: the colours changed (Colors); painters should drop cached layouts.
    """

    changed = Signal(object)

    def __init__(self, mode: ThemeMode = ThemeMode.SYSTEM, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = mode
        self._colors = DARK if self._wants_dark(mode) else LIGHT
        QGuiApplication.styleHints().colorSchemeChanged.connect(self.on_system_scheme_changed)

    @property
    def mode(self) -> ThemeMode:
        return self._mode

    @property
    def colors(self) -> Colors:
        return self._colors

    @staticmethod
    def _wants_dark(mode: ThemeMode) -> bool:
        if mode is ThemeMode.SYSTEM:
            return system_prefers_dark()
        return mode is ThemeMode.DARK

    def apply(self, mode: ThemeMode | None = None) -> Colors:
        """Switch to ``mode`` (or re-apply the current one) on the running application."""
        if mode is not None:
            self._mode = ThemeMode(mode)
        colors = DARK if self._wants_dark(self._mode) else LIGHT
        app = QApplication.instance()
        if isinstance(app, QApplication):
            if app.style().name().lower() != "fusion":
                app.setStyle("Fusion")
            app.setPalette(build_palette(colors))
            app.setStyleSheet(style_sheet(colors))
        changed = colors != self._colors
        self._colors = colors
        if changed:
            self.changed.emit(colors)
        return colors

    def on_system_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._mode is ThemeMode.SYSTEM:
            self.apply()
