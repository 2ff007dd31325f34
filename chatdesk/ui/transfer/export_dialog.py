"""File > Export all chats…: which chats, as a .zip or a folder, then how far it got.

A small window of its own, not modal, so the main window stays usable while the
archive is written: it lists every chat with a checkbox (all checked), a filter box,
"Select all" / "Select none" and what is chosen (chats and messages), a choice of one
.zip file (the default) or a folder, and Export. While the archive is written it shows
the chat and the messages done, and Export becomes Cancel.

The dialog only asks and shows; ``export_all.ExportAll`` reads the chats, asks where
to save and runs the export.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services.archive import ArchiveProgress, ChatChoice

BAR_STEPS = 1000
ThreadIdRole = Qt.ItemDataRole.UserRole
MessagesRole = Qt.ItemDataRole.UserRole + 1


class ExportChatsDialog(QDialog):
    """Choose chats and a kind of archive; follow the export.

    Signals:
        export_requested(list, bool): the chosen thread ids, and True for one .zip.
        cancel_requested(): Cancel was pressed while the export runs.
    """

    export_requested = Signal(list, bool)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportChatsDialog")
        self.setWindowTitle("Export chats")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("exportChatsFilter")
        self.filter_edit.setPlaceholderText("Filter chats by title")
        self.filter_edit.setClearButtonEnabled(True)
        self.chat_list = QListWidget(self)
        self.chat_list.setObjectName("exportChatsList")
        self.select_all_button = QPushButton("Select &all", self)
        self.select_all_button.setObjectName("exportSelectAll")
        self.select_none_button = QPushButton("Select &none", self)
        self.select_none_button.setObjectName("exportSelectNone")
        self.count_label = QLabel(self)
        self.count_label.setObjectName("exportChatsCount")
        self.as_zip = QRadioButton("One .&zip file", self)
        self.as_zip.setObjectName("exportAsZip")
        self.as_zip.setChecked(True)
        self.as_folder = QRadioButton("A &folder", self)
        self.as_folder.setObjectName("exportAsFolder")
        self.status = QLabel(self)
        self.status.setObjectName("exportStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("exportProgress")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setTextVisible(False)
        self.start_button = QPushButton("&Export…", self)
        self.start_button.setObjectName("exportStartButton")
        self.start_button.setDefault(True)
        self.close_button = QPushButton("Close", self)
        self.close_button.setObjectName("exportCloseButton")
        self._running = False
        self._lay_out()
        self.filter_edit.textChanged.connect(self.on_filter_changed)
        self.chat_list.itemChanged.connect(self.update_count)
        self.select_all_button.clicked.connect(lambda: self.set_all_checked(True))
        self.select_none_button.clicked.connect(lambda: self.set_all_checked(False))
        self.start_button.clicked.connect(self.on_start_clicked)
        self.close_button.clicked.connect(self.close)
        self.set_chats([])

    def _lay_out(self) -> None:
        picks = QHBoxLayout()
        picks.addWidget(self.select_all_button)
        picks.addWidget(self.select_none_button)
        picks.addStretch(1)
        picks.addWidget(self.count_label)
        kinds = QHBoxLayout()
        kinds.addWidget(self.as_zip)
        kinds.addWidget(self.as_folder)
        kinds.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.start_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.chat_list, 1)
        layout.addLayout(picks)
        layout.addLayout(kinds)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        self.status.hide()
        self.bar.hide()
        self.resize(460, 480)

    # -- the chats --------------------------------------------------------------------

    def set_chats(self, chats: Sequence[ChatChoice]) -> None:
        """List ``chats``, every one checked."""
        self.chat_list.blockSignals(True)
        self.chat_list.clear()
        for chat in chats:
            item = QListWidgetItem(f"{chat.title}  ·  {chat.messages:,} messages")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setData(ThreadIdRole, chat.thread_id)
            item.setData(MessagesRole, chat.messages)
            item.setToolTip(chat.title)
            self.chat_list.addItem(item)
        self.chat_list.blockSignals(False)
        self.on_filter_changed(self.filter_edit.text())

    def _items(self) -> list[QListWidgetItem]:
        return [self.chat_list.item(row) for row in range(self.chat_list.count())]

    def chosen(self) -> list[int]:
        """The checked chats' ids, in the list's order."""
        return [
            int(item.data(ThreadIdRole))
            for item in self._items()
            if item.checkState() is Qt.CheckState.Checked
        ]

    def set_all_checked(self, checked: bool) -> None:
        """Check (or uncheck) every chat the filter shows."""
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self.chat_list.blockSignals(True)
        for item in self._items():
            if not item.isHidden():
                item.setCheckState(state)
        self.chat_list.blockSignals(False)
        self.update_count()

    def on_filter_changed(self, text: str) -> None:
        needle = text.strip().casefold()
        for item in self._items():
            title = str(item.toolTip())
            item.setHidden(bool(needle) and needle not in title.casefold())
        self.update_count()

    def update_count(self, *_args: object) -> None:
        checked = [i for i in self._items() if i.checkState() is Qt.CheckState.Checked]
        messages = sum(int(item.data(MessagesRole)) for item in checked)
        self.count_label.setText(
            f"{len(checked):,} of {self.chat_list.count():,} chats, {messages:,} messages"
        )
        self.start_button.setEnabled(self._running or bool(checked))

    # -- the export -------------------------------------------------------------------

    def on_start_clicked(self) -> None:
        if self._running:
            self.start_button.setEnabled(False)
            self.status.setText("Cancelling…")
            self.cancel_requested.emit()
            return
        self.export_requested.emit(self.chosen(), self.as_zip.isChecked())

    def begin(self) -> None:
        """The export started: show its progress, Export becomes Cancel."""
        self._running = True
        for widget in (self.filter_edit, self.chat_list, self.as_zip, self.as_folder):
            widget.setEnabled(False)
        self.select_all_button.setEnabled(False)
        self.select_none_button.setEnabled(False)
        self.start_button.setText("Cancel")
        self.start_button.setObjectName("exportCancelButton")
        self.status.setText("Starting…")
        self.bar.setValue(0)
        self.status.show()
        self.bar.show()

    def show_progress(self, progress: ArchiveProgress) -> None:
        if not self._running or not self.start_button.isEnabled():
            return  # cancelling: keep saying so
        if progress.title:
            self.status.setText(
                f"Chat {progress.chat:,} of {progress.chats:,}: {progress.title} — "
                f"{progress.messages:,} of {progress.total:,} messages"
            )
        share = progress.messages / progress.total if progress.total else 1.0
        self.bar.setValue(round(min(share, 1.0) * BAR_STEPS))

    def finish(self) -> None:
        """The export ended (the window's notice says how): close."""
        self._running = False
        self.close()

    def closeEvent(self, event: object) -> None:
        if self._running:  # closing the window asks the export to stop
            self.cancel_requested.emit()
        super().closeEvent(event)  # type: ignore[arg-type]
