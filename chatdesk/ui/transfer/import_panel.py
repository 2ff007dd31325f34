"""The bar above the composer while a chat is imported: what, how far, and Cancel.

It sits in the chat pane's layout rather than over it, so it covers no message and the
window stays fully usable. The text names the stage (reading the file, checking it,
writing it) with its exact count, and the bar shows that same stage's share, so the
two always agree.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services.transfer import ImportProgress, ImportStage
from chatdesk.ui.chat.message_delegate import COLUMN_MAX

BAR_STEPS = 1000


def progress_text(name: str, progress: ImportProgress) -> str:
    """What the bar says, e.g. "Importing chat.json… 42,000 of 100,000 messages"."""
    done, total = progress.done, progress.total
    if progress.stage is ImportStage.READING:
        share = done * 100 // total if total else 100
        return f"Checking {name}… {share}%"
    if progress.stage is ImportStage.WRITING:
        return f"Importing {name}… {done:,} of {total:,} messages"
    if progress.stage is ImportStage.IMPORTING:  # another app's export: one pass
        share = done * 100 // total if total else 100
        return f"Importing {name}… {share}%"
    if progress.stage is ImportStage.PUBLISHING:
        return f"Adding the chats of {name}… {done:,} of {total:,}"
    return f"Removing what was imported… {done:,} of {total:,} messages"


class ImportPanel(QWidget):
    """A card with a label, a progress bar and a Cancel button, aligned with the composer.

    Signals:
        cancel_clicked: the person asked to stop the import.
    """

    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name = ""
        self.card = QFrame(self)
        self.card.setObjectName("importPanel")
        self.card.setMaximumWidth(COLUMN_MAX)
        self.label = QLabel(self.card)
        self.label.setObjectName("importStatus")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar(self.card)
        self.bar.setObjectName("importProgress")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setAccessibleName("Import progress")
        self.cancel_button = QPushButton("Cancel", self.card)
        self.cancel_button.setObjectName("importCancelButton")
        self.cancel_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.cancel_button.setAccessibleName("Cancel import")
        self.cancel_button.clicked.connect(self.on_cancel_clicked)

        text_column = QWidget(self.card)
        column = QVBoxLayout(text_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        column.addWidget(self.label)
        column.addWidget(self.bar)
        card_layout = QHBoxLayout(self.card)
        card_layout.setContentsMargins(14, 8, 8, 8)
        card_layout.setSpacing(12)
        card_layout.addWidget(text_column, 1)
        card_layout.addWidget(self.cancel_button)
        row = QHBoxLayout(self)
        row.setContentsMargins(20, 8, 20, 0)
        row.addStretch(0)
        row.addWidget(self.card, 1)
        row.addStretch(0)
        self.hide()

    def begin(self, name: str) -> None:
        """Show the bar for a new import of the file called ``name``."""
        self._name = name
        self.label.setText(f"Checking {name}…")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        self.show()

    def show_progress(self, progress: ImportProgress) -> None:
        if not self.cancel_button.isEnabled() and progress.stage is not ImportStage.DISCARDING:
            return  # cancelling: keep saying so until the clean-up reports
        self.label.setText(progress_text(self._name, progress))
        if progress.stage is ImportStage.DISCARDING:  # no meaningful share: just busy
            self.bar.setRange(0, 0)
            return
        share = progress.done / progress.total if progress.total else 1.0
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setValue(round(min(share, 1.0) * BAR_STEPS))

    def on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText(f"Cancelling the import of {self._name}…")
        self.bar.setRange(0, 0)  # busy until it has cleaned up
        self.cancel_clicked.emit()

    def finish(self) -> None:
        self.hide()
