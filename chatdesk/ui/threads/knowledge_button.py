"""The open chat's knowledge in its header: ``knowledgeButton`` shows how many documents
the chat keeps and opens ``knowledgeDialog``, where documents are added and removed.

Adding copies each file into the data dir (``services.attachments.add``: its type told
from its bytes, checked as any attachment) on a background task, then keeps them for
the chat in one transaction (``services.knowledge``): a file that cannot be added is
named with the reason and the others are kept. Only the stored copies are read later.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.knowledge import MAX_KNOWLEDGE_FILES
from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.chat.attachment_chips import size_label
from chatdesk.ui.tasks import Task, TaskControl, Tasks, failure_reason
from chatdesk.vocabulary import AttachmentKind

KNOWLEDGE_TEXT = "Knowledge"
NOT_A_DOCUMENT = "an image is shown to the model with a message; attach it there instead."
DOCUMENT_FILTER = "Documents (*.pdf *.docx *.txt *.md *.markdown *.csv *.json *.py);;All files (*)"


class KnowledgeButton(QToolButton):
    """``knowledgeButton``: "Knowledge" with the chat's document count; opens the dialog."""

    def __init__(
        self, services: Services, user_id: int, tasks: Tasks, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("knowledgeButton")
        self.setAccessibleName("Knowledge of this chat")
        self.setToolTip("Documents this chat uses for every reply")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._services = services
        self._user_id = user_id
        self._tasks = tasks
        self._thread_id: int | None = None
        self.dialog: KnowledgeDialog | None = None
        self.clicked.connect(self.open_dialog)
        self.set_thread(None)

    def set_thread(self, thread_id: int | None) -> None:
        self._thread_id = thread_id
        self.refresh()

    def refresh(self) -> None:
        count = 0
        if self._thread_id is not None:
            try:
                count = len(self._services.knowledge.list(self._user_id, self._thread_id))
            except ServiceError:
                count = 0
        self.setText(f"{KNOWLEDGE_TEXT} ({count})" if count else KNOWLEDGE_TEXT)

    def open_dialog(self) -> KnowledgeDialog | None:
        if self._thread_id is None:
            return None
        dialog = self.dialog = KnowledgeDialog(
            self._services, self._user_id, self._thread_id, self._tasks, self.window()
        )
        dialog.finished.connect(self.refresh)
        dialog.show()
        return dialog


class KnowledgeDialog(QDialog):
    """``knowledgeDialog``: the chat's documents, Add documents…, Remove."""

    def __init__(
        self,
        services: Services,
        user_id: int,
        thread_id: int,
        tasks: Tasks,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("knowledgeDialog")
        self.setWindowTitle("Knowledge of this chat")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.resize(460, 340)
        self._services = services
        self._user_id = user_id
        self._thread_id = thread_id
        self._tasks = tasks
        self.adding: Task | None = None

        intro = QLabel(
            "Documents kept here are searched for every reply of this chat, and the "
            f"passages used are cited under the reply. At most {MAX_KNOWLEDGE_FILES}.",
            self,
        )
        intro.setWordWrap(True)
        intro.setProperty("muted", True)
        self.documents = QListWidget(self)
        self.documents.setObjectName("knowledgeList")
        self.documents.setAccessibleName("Documents of this chat")
        self.message = QLabel(self)
        self.message.setObjectName("knowledgeMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.add_button = QPushButton("Add documents…", self)
        self.add_button.setObjectName("addKnowledgeButton")
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setObjectName("removeKnowledgeButton")
        close = QPushButton("Close", self)
        close.setDefault(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.documents, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.add_button.clicked.connect(self.on_add)
        self.remove_button.clicked.connect(self.remove_selected)
        self.documents.currentRowChanged.connect(self._enable)
        close.clicked.connect(self.accept)
        self.reload()

    def choose_files(self) -> list[str]:
        """The files the person picks (tests replace this)."""
        paths, _filter = QFileDialog.getOpenFileNames(
            self, "Add documents to this chat", "", DOCUMENT_FILTER
        )
        return list(paths)

    def reload(self) -> None:
        self.documents.clear()
        try:
            kept = self._services.knowledge.list(self._user_id, self._thread_id)
        except ServiceError as error:
            self.message.setText(str(error))
            kept = ()
        for record in kept:
            item = QListWidgetItem(f"{record.file_name}  ·  {size_label(record.size_bytes)}")
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            self.documents.addItem(item)
        self._enable()

    def _enable(self) -> None:
        busy = self.adding is not None
        self.add_button.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and self.documents.currentRow() >= 0)

    def on_add(self) -> None:
        paths = [Path(p) for p in self.choose_files()]
        if paths:
            self.add_paths(paths)

    def add_paths(self, paths: Sequence[Path]) -> Task:
        """Copy the files in and keep them for the chat, in the background."""
        services, user, thread = self._services, self._user_id, self._thread_id

        def work(control: TaskControl) -> list[str]:
            added: list[AttachmentRecord] = []
            refused: list[str] = []
            for path in paths:
                control.check()
                try:
                    record = services.attachments.add(user, path)
                except (ServiceError, OSError) as error:
                    refused.append(f"{path.name}: {failure_reason(error, path.name)}")
                    continue
                if record.kind is AttachmentKind.IMAGE:
                    refused.append(f"{path.name}: {NOT_A_DOCUMENT}")
                else:
                    added.append(record)
            if added:
                services.knowledge.add(user, thread, added)
            return refused

        self.message.setText(f"Adding {len(paths)} document(s)…")
        task = self.adding = self._tasks.start("chatdesk-knowledge", work)
        task.succeeded.connect(self._on_added)
        task.failed.connect(
            lambda error: self.message.setText(failure_reason(error, "adding documents"))
        )
        task.ended.connect(self._on_ended)
        self._enable()
        return task

    def _on_added(self, refused: list[str]) -> None:
        self.message.setText("\n".join(refused) if refused else "")

    def _on_ended(self) -> None:
        self.adding = None
        self.reload()

    def remove_selected(self) -> None:
        item = self.documents.currentItem()
        if item is None:
            return
        try:
            self._services.knowledge.remove(
                self._user_id, self._thread_id, int(item.data(Qt.ItemDataRole.UserRole))
            )
        except ServiceError as error:
            self.message.setText(str(error))
        self.reload()
