"""Editing one of your messages where it stands: an editor over its bubble.

Why in the bubble: an edit makes a new version of that message and the crew answers it
from there, so the words are changed where they were said, not typed again at the
bottom. One editor for the list (a child of its viewport), placed over the bubble and
moved with it when the list scrolls; Enter sends (Shift+Enter: a new line), Escape
leaves everything as it was. Sending goes through the window's ``send_edit``, so a busy
database is tried again and a failure keeps the editor open with the words.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from chatdesk.ui.chat.message_delegate import MessageDelegate
from chatdesk.ui.chat.message_model import MessageListModel, MessageRoles

MIN_WIDTH = 360
MAX_HEIGHT_SHARE = 0.45
"""The editor grows with its text up to this share of the list's height, then scrolls."""


class BubbleEditor(QFrame):
    """The in-place editor of the list's messages (hidden when no message is edited).

    Signals:
        submitted: the person sent the edited words (message id, text).
    """

    submitted = Signal(int, str)

    def __init__(
        self, view: QAbstractItemView, model: MessageListModel, delegate: MessageDelegate
    ) -> None:
        super().__init__(view.viewport())
        self.setObjectName("bubbleEditor")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._view = view
        self._model = model
        self._delegate = delegate
        self.message_id: int | None = None
        self.edit = QPlainTextEdit(self)
        self.edit.setObjectName("bubbleEditText")
        self.edit.setAccessibleName("Edit your message")
        self.edit.installEventFilter(self)
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("bubbleEditSend")
        self.send_button.setToolTip("Send as a new version (Enter)")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("bubbleEditCancel")
        self.cancel_button.setToolTip("Leave the message as it was (Esc)")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.edit)
        layout.addLayout(buttons)
        self.send_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.close_editor)
        self.edit.textChanged.connect(self.place)
        view.verticalScrollBar().valueChanged.connect(self.place)
        model.modelReset.connect(self._follow_rows)
        model.rowsRemoved.connect(self._follow_rows)
        self.hide()

    def open_on(self, message_id: int) -> bool:
        """Edit ``message_id`` in place; False if it is not shown."""
        row = self._model.row_of(message_id)
        if row is None:
            return False
        self.message_id = message_id
        self.edit.setPlainText(str(self._model.index(row).data(MessageRoles.Content) or ""))
        self.edit.selectAll()
        self._view.scrollTo(self._model.index(row), QAbstractItemView.ScrollHint.EnsureVisible)
        self.show()
        self.place()
        self.raise_()
        self.edit.setFocus()
        return True

    def place(self) -> None:
        """Over the bubble being edited, as wide as it (at least ``MIN_WIDTH``)."""
        if self.message_id is None:
            return
        row = self._model.row_of(self.message_id)
        if row is None:
            self.close_editor()
            return
        index = self._model.index(row)
        rect = self._view.visualRect(index)
        bubble = self._delegate.geometry(rect, index, self._view.font()).bubble.toRect()
        viewport = self._view.viewport().rect()
        width = min(max(bubble.width(), MIN_WIDTH), viewport.width() - 16)
        lines = self.edit.document().size().height() * self.edit.fontMetrics().lineSpacing()
        extra = self.send_button.sizeHint().height() + 24
        height = int(min(max(lines + 12, 60) + extra, viewport.height() * MAX_HEIGHT_SHARE + extra))
        left = max(8, min(bubble.right() - width, viewport.width() - width - 8))
        top = max(0, min(bubble.top(), viewport.height() - height))
        self.setGeometry(left, top, width, height)
        self._delegate.reserve(index, height)  # its row makes room: nothing below is covered

    def submit(self) -> None:
        if self.message_id is not None:
            self.submitted.emit(self.message_id, self.edit.toPlainText())

    def close_editor(self) -> None:
        self.message_id = None
        self._delegate.reserve(None)
        self.hide()
        self._view.setFocus()

    def _follow_rows(self, *_args: object) -> None:
        if self.message_id is not None and self._model.row_of(self.message_id) is None:
            self.close_editor()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key, mods = event.key(), event.modifiers()
            if key == Qt.Key.Key_Escape:
                self.close_editor()
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                mods & Qt.KeyboardModifier.ShiftModifier
            ):
                self.submit()
                return True
        return False
