"""Where a person writes: Enter sends, Shift+Enter breaks the line.

The composer knows nothing about threads or services. It reports ``send_requested``
with the text, ``stop_requested``, and ``draft_changed`` at most every 400 ms while
typing (the window saves the draft of the open thread). Errors from sending are shown
inline under the text, which is kept so nothing typed is lost.

Files for the message show as chips above the field (``attachment_chips.py``); the
composer only reports what the person gave: ``attach_requested`` (the Attach button),
``urls_given`` (file URLs dropped or pasted) and ``image_given`` (a pasted image). A
plain text paste stays text. A message may be only files: Send is enabled while the
text or the chips hold something (``set_file_count``).

Editing a sent message happens in its bubble (``bubble_editor.py``), not here.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QImage,
    QKeyEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.ui.chat.attachment_chips import AttachmentChipModel, AttachmentChips

DRAFT_DEBOUNCE_MS = 400
MAX_LINES = 10


PLACEHOLDER = "Message chatdesk…  (Enter to send, Shift+Enter for a new line)"
SHORT_PLACEHOLDER = "Message chatdesk…"


class ComposerEdit(QPlainTextEdit):
    """The text field: Enter and Ctrl+Enter submit, Shift+Enter inserts a newline.

    Signals:
        submit: the person asked to send.
        focus_changed: the field gained (True) or lost (False) the keyboard focus.
        urls_given: file URLs were dropped or pasted into the field (list of QUrl).
        image_given: an image was pasted into the field (QImage).
    """

    submit = Signal()
    focus_changed = Signal(bool)
    urls_given = Signal(list)
    image_given = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setAccessibleName("Message")
        self.setPlaceholderText(PLACEHOLDER)
        self.setTabChangesFocus(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.document().setDocumentMargin(6)
        self.document().contentsChanged.connect(self.updateGeometry)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.textCursor().insertText("\n")
                self.ensureCursorVisible()
                event.accept()
                return
            if not mods & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier):
                event.accept()
                self.submit.emit()
                return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return source.hasUrls() or source.hasImage() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        """A drop or paste: URLs and images become attachments; text stays text."""
        if source.hasUrls():
            self.urls_given.emit(list(source.urls()))
        elif source.hasImage():
            image = source.imageData()
            if isinstance(image, QImage) and not image.isNull():
                self.image_given.emit(image)
        else:
            super().insertFromMimeData(source)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Dropped files are attached (never typed in as their paths)."""
        if event.mimeData().hasUrls() and not self.isReadOnly():
            event.acceptProposedAction()
            self.urls_given.emit(list(event.mimeData().urls()))
        else:
            super().dropEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The hint on one line: its short form when the long one would wrap."""
        super().resizeEvent(event)
        room = self.viewport().width() - 2 * int(self.document().documentMargin()) - 4
        fits = self.fontMetrics().horizontalAdvance(PLACEHOLDER) <= room
        self.setPlaceholderText(PLACEHOLDER if fits else SHORT_PLACEHOLDER)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.focus_changed.emit(True)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.focus_changed.emit(False)

    def _height_for_lines(self, lines: int) -> int:
        fm = self.fontMetrics()
        margins = self.contentsMargins()
        return int(
            lines * fm.lineSpacing()
            + 2 * self.document().documentMargin()
            + margins.top()
            + margins.bottom()
            + 2
        )

    def sizeHint(self) -> QSize:
        lines = int(self.document().size().height()) or 1  # plain layout: height in lines
        lines = max(1, min(lines, MAX_LINES))
        return QSize(super().sizeHint().width(), self._height_for_lines(lines))

    def minimumSizeHint(self) -> QSize:
        return QSize(80, self._height_for_lines(1))


class Composer(QWidget):
    """The field, the Send and Stop buttons and an inline error line.

    Signals:
        send_requested: Send or Enter with non-empty text or files (str).
        stop_requested: Stop was clicked.
        draft_changed: the text, debounced while typing (str).
        attach_requested: the Attach button was clicked.
        urls_given: file URLs were dropped or pasted (list of QUrl).
        image_given: an image was pasted (QImage).
    """

    send_requested = Signal(str)
    stop_requested = Signal()
    draft_changed = Signal(str)
    attach_requested = Signal()
    urls_given = Signal(list)
    image_given = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composerArea")
        self.frame = QFrame(self)
        self.frame.setObjectName("composerFrame")
        self.edit = ComposerEdit(self.frame)
        self._files = 0
        self.chip_model = AttachmentChipModel(self)
        self.chips = AttachmentChips(self.chip_model, self)
        self.attach_button = QPushButton("Attach", self.frame)
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setAccessibleName("Attach files")
        self.attach_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button = QPushButton("Send", self.frame)
        self.send_button.setObjectName("sendButton")
        self.send_button.setAccessibleName("Send message")
        self.send_button.setToolTip("Send (Enter)")
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.stop_button = QPushButton("Stop", self.frame)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setAccessibleName("Stop the reply")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.stop_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.stop_button.setVisible(False)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("composerError")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_DEBOUNCE_MS)
        self._quiet = False

        row = QHBoxLayout(self.frame)
        row.setContentsMargins(8, 6, 8, 7)
        row.setSpacing(8)
        row.addWidget(self.edit, 1)
        bottom = Qt.AlignmentFlag.AlignBottom
        row.addWidget(self.attach_button, 0, bottom)
        row.addWidget(self.stop_button, 0, bottom)
        row.addWidget(self.send_button, 0, bottom)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        outer.addWidget(self.chips)
        outer.addWidget(self.frame)
        outer.addWidget(self.error_label)
        self.setFocusProxy(self.edit)
        self._connect_signals()
        self.on_text_changed()

    def _connect_signals(self) -> None:
        self.edit.textChanged.connect(self.on_text_changed)
        self.edit.submit.connect(self.on_submit)
        self.send_button.clicked.connect(self.on_submit)
        self.stop_button.clicked.connect(self.stop_requested)
        self._draft_timer.timeout.connect(self.on_draft_timeout)
        self.edit.focus_changed.connect(self.on_edit_focus_changed)
        self.edit.urls_given.connect(self.urls_given)
        self.edit.image_given.connect(self.image_given)
        self.attach_button.clicked.connect(self.attach_requested)

    # -- state -----------------------------------------------------------------------

    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the text without reporting it as a draft change (e.g. on thread switch)."""
        self._draft_timer.stop()
        self._quiet = True
        try:
            self.edit.setPlainText(text)
            cursor = self.edit.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            self.edit.setTextCursor(cursor)
        finally:
            self._quiet = False
        self.set_waiting(None)

    def insert_quote(self, quote: str) -> None:
        """Put a quote where the cursor is, on lines of its own, and write after it (an
        edit like typing: it is saved as the draft, and Undo takes it back)."""
        cursor = self.edit.textCursor()
        before = self.text()[: cursor.position()]
        if before and not before.endswith("\n"):
            quote = "\n" + quote
        cursor.insertText(quote)
        self.edit.setTextCursor(cursor)
        self.edit.setFocus()

    def set_busy(self, busy: bool) -> None:
        """Show Stop while the open thread has a reply pending or streaming."""
        self.stop_button.setVisible(busy)
        self.stop_button.setEnabled(busy)

    def set_waiting(self, text: str | None) -> None:
        """While a send waits for the database, say ``text`` and hold the field still
        (what is sent is what shows); None ends the wait."""
        waiting = text is not None
        self.edit.setReadOnly(waiting)
        self.send_button.setEnabled(not waiting and self._has_content())
        if text is not None:
            self.show_error(text, waiting=True)
        else:
            self.clear_error()

    def is_waiting(self) -> bool:
        return self.edit.isReadOnly()

    def show_error(self, message: str, *, waiting: bool = False) -> None:
        """``message`` under the field: red, or muted for a wait (``waiting``)."""
        if self.error_label.property("waiting") != waiting:
            self.error_label.setProperty("waiting", waiting)
            self.error_label.style().unpolish(self.error_label)
            self.error_label.style().polish(self.error_label)
        self.error_label.setText(message)
        self.error_label.setVisible(True)

    def clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.setVisible(False)

    def flush_draft(self) -> None:
        """Report a pending draft change now (before switching thread or closing)."""
        if self._draft_timer.isActive():
            self._draft_timer.stop()
            self.draft_changed.emit(self.text())

    def has_pending_draft(self) -> bool:
        return self._draft_timer.isActive()

    # -- slots -----------------------------------------------------------------------

    def _has_content(self) -> bool:
        return bool(self.text().strip()) or self._files > 0

    def set_file_count(self, count: int) -> None:
        """How many files wait to go with the message (a message may be only files)."""
        self._files = count
        self.send_button.setEnabled(not self.is_waiting() and self._has_content())

    def on_text_changed(self) -> None:
        self.send_button.setEnabled(self._has_content())
        if not self._quiet:
            if self.error_label.isVisible():
                self.clear_error()
            self._draft_timer.start()

    def on_submit(self) -> None:
        text = self.text()
        if self._has_content():
            self.send_requested.emit(text)

    def on_edit_focus_changed(self, focused: bool) -> None:
        """Ring the whole frame, not just the borderless field, while it has the focus."""
        self.frame.setProperty("focused", focused)
        self.frame.style().unpolish(self.frame)
        self.frame.style().polish(self.frame)

    def on_draft_timeout(self) -> None:
        self.draft_changed.emit(self.text())

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.edit.setFocus(event.reason())
