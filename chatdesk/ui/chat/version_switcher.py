"""Flipping between a message's versions: ``‹ 2 / 3 ›`` under its bubble, Alt+Left/Right.

Why a small object of its own: the label is painted by the delegate (no widget per row),
but flipping is a use case with a write (the choice is remembered), a new page of the
path below, keeping the flipped row in view and saying what happened to screen readers.
Tests find it as ``versionSwitcher`` and may call ``flip`` directly.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView

from chatdesk.services.errors import ServiceError
from chatdesk.ui.chat.message_delegate import MessageDelegate
from chatdesk.ui.chat.message_model import MessageListModel, MessageRoles


class VersionSwitcher(QObject):
    """Shows another version of a message of the list it serves.

    Signals:
        flipped: a version is shown now (its message id).
        failed: the choice could not be written (a sentence for the person).
    """

    flipped = Signal(int)
    failed = Signal(str)

    def __init__(
        self, view: QAbstractItemView, model: MessageListModel, delegate: MessageDelegate
    ) -> None:
        super().__init__(view)
        self.setObjectName("versionSwitcher")
        self._view = view
        self._model = model
        delegate.version_clicked.connect(self.flip)
        view.installEventFilter(self)

    def flip(self, message_id: int, step: int) -> bool:
        """Show the version ``step`` places from ``message_id``; False if there is none
        that way (or the choice could not be written, told by ``failed``)."""
        model = self._model
        row = model.row_of(message_id)
        if row is None:
            return False
        index = model.index(row)
        at, count = index.data(MessageRoles.VersionIndex), index.data(MessageRoles.VersionCount)
        if not 1 <= at + step <= count:
            return False
        try:
            shown = model.switch_version(message_id, step)
        except ServiceError as error:
            self.failed.emit(f"Could not show that version: {error}")
            return False
        if shown is None:
            return False
        target = model.index(shown)
        self._make_current(target)
        self._view.scrollTo(target, QAbstractItemView.ScrollHint.EnsureVisible)
        self._view.setAccessibleDescription(
            f"Version {target.data(MessageRoles.VersionIndex)} of "
            f"{target.data(MessageRoles.VersionCount)}"
        )
        self.flipped.emit(target.data(MessageRoles.MessageId))
        return True

    def _make_current(self, index: QModelIndex) -> None:
        self._view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Alt+Left / Alt+Right on the list flip the current message's versions."""
        if watched is self._view and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            step = _STEPS.get(Qt.Key(event.key()))
            if step is not None and event.modifiers() == Qt.KeyboardModifier.AltModifier:
                current = self._view.currentIndex()
                if current.isValid():
                    self.flip(current.data(MessageRoles.MessageId), step)
                event.accept()
                return True
        return False


_STEPS: dict[Qt.Key, int] = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}
