"""A small transient notice at the bottom of the chat pane, with one action.

Used for "Chat deleted — Undo": it stays for as long as the undo is possible and never
takes focus, so typing is not interrupted.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

TOAST_MS = 6000
BOTTOM_OFFSET = 16


class Toast(QFrame):
    """A floating message with an action button, over its parent's bottom edge.

    Signals:
        action_clicked: the action button was clicked.
        space_needed(int): how much of its parent's bottom it covers now (0: hidden), so
            the list below can keep its last line clear of it.
    """

    action_clicked = Signal()
    space_needed = Signal(int)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("toast")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.button = QPushButton(self)
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 6, 8, 6)
        layout.setSpacing(12)
        layout.addWidget(self.label)
        layout.addWidget(self.button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.button.clicked.connect(self.on_button_clicked)
        parent.installEventFilter(self)
        self.hide()

    def show_message(self, text: str, action: str = "", timeout_ms: int = TOAST_MS) -> None:
        """Show ``text`` (plain) with an optional action button for ``timeout_ms``."""
        self.label.setText(text)
        self.button.setText(action)
        self.button.setAccessibleName(action)
        self.button.setVisible(bool(action))
        self.adjustSize()
        self._place()
        self.show()
        self.raise_()
        self._timer.start(timeout_ms)

    def on_button_clicked(self) -> None:
        self.hide()
        self.action_clicked.emit()

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        x = (parent.width() - self.width()) // 2
        y = parent.height() - self.height() - BOTTOM_OFFSET
        self.move(max(x, 0), max(y, 0))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.space_needed.emit(self.height() + 2 * BOTTOM_OFFSET)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.space_needed.emit(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self._place()
        return False
