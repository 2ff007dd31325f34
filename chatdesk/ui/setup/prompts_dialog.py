"""Chat › Prompts…: the person's saved prompts, added, edited, renamed, deleted, moved.

A list on the left (filtered as one types), the chosen prompt's name and text on the
right; Save (Ctrl+S) stores both in one call, so a rename and an edit are one change.
Leaving a prompt with unsaved changes asks first; Delete asks for a confirmation.
Import and Export use the ``chatdesk-prompts`` JSON file (``services/prompt_transfer``):
an import reports what it added, skipped (same name) and refused (why), and a file that
is not a prompts file imports nothing, with the place of the problem said.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services.errors import ServiceError
from chatdesk.services.prompt_text import variables
from chatdesk.services.prompt_transfer import PromptFileError, export_prompts, read_prompts
from chatdesk.services.prompts import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    ImportOutcome,
    PromptRecord,
    PromptService,
)
from chatdesk.ui.chat.prompt_picker import ranked

ID_ROLE = Qt.ItemDataRole.UserRole
TEXT_HINT = (
    "The text inserted when you pick this prompt with / in the message field.\n"
    "Write {{name}} for a value to ask for, {{tone|friendly}} for one with a default."
)
MAX_LISTED_NAMES = 5


def describe_import(file_name: str, outcome: ImportOutcome) -> str:
    """One short paragraph for the person: what the import did, naming a few prompts."""

    def some(names: list[str]) -> str:
        shown = ", ".join(f"“{name}”" for name in names[:MAX_LISTED_NAMES])
        more = len(names) - MAX_LISTED_NAMES
        return shown + (f" and {more} more" if more > 0 else "")

    parts = [f"From {file_name}: {len(outcome.added)} added"]
    if outcome.skipped:
        parts.append(
            f"{len(outcome.skipped)} skipped (a prompt of that name exists: "
            f"{some(outcome.skipped)})"
        )
    if outcome.refused:
        reasons = "; ".join(
            f"“{name or '(no name)'}”: {reason}"
            for name, reason in outcome.refused[:MAX_LISTED_NAMES]
        )
        more = len(outcome.refused) - MAX_LISTED_NAMES
        parts.append(
            f"{len(outcome.refused)} refused ({reasons}{f' and {more} more' if more > 0 else ''})"
        )
    return ", ".join(parts) + "."


class PromptsDialog(QDialog):
    """The prompt library of one person."""

    def __init__(self, prompts: PromptService, user_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("promptsDialog")
        self.setWindowTitle("Prompts — chatdesk")
        self._prompts = prompts
        self._user_id = user_id
        self._records: list[PromptRecord] = []
        self._current: PromptRecord | None = None
        self._editing_new = False
        self._switching = False
        self._fills = 0

        self.filter = QLineEdit(self)
        self.filter.setObjectName("promptFilter")
        self.filter.setPlaceholderText("Filter prompts")
        self.filter.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setObjectName("promptList")
        self.list.setAccessibleName("Saved prompts")
        self.list.setStyleSheet("#promptList::item { padding: 4px 6px; }")
        self.empty = QLabel("No saved prompts yet.\nAdd one with New, or Import a file.", self)
        self.empty.setObjectName("promptListEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setEnabled(False)
        self.new_button = QPushButton("&New", self)
        self.new_button.setObjectName("promptNewButton")
        self.new_button.setToolTip("A new prompt (Ctrl+N)")
        self.delete_button = QPushButton("&Delete…", self)
        self.delete_button.setObjectName("promptDeleteButton")
        self.delete_button.setToolTip("Delete the chosen prompt (Delete)")

        self.name = QLineEdit(self)
        self.name.setObjectName("promptName")
        self.name.setMaxLength(MAX_NAME_CHARS)
        self.name.setPlaceholderText("A short name to find it by, e.g. Summary")
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("promptText")
        self.text.setPlaceholderText(TEXT_HINT)
        self.text.setTabChangesFocus(True)
        self.variables = QLabel(self)
        self.variables.setObjectName("promptVariablesFound")
        self.variables.setTextFormat(Qt.TextFormat.PlainText)
        self.variables.setWordWrap(True)
        self.variables.setEnabled(False)
        self.error = QLabel(self)
        self.error.setObjectName("promptError")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setProperty("role", "error")
        self.error.setStyleSheet("color: palette(bright-text);")
        self.error.hide()
        self.revert_button = QPushButton("&Revert", self)
        self.revert_button.setObjectName("promptRevertButton")
        self.save_button = QPushButton("&Save", self)
        self.save_button.setObjectName("promptSaveButton")
        self.save_button.setToolTip("Save the name and text (Ctrl+S)")

        self.import_button = QPushButton("&Import…", self)
        self.import_button.setObjectName("promptImportButton")
        self.import_button.setToolTip("Add the prompts of a chatdesk-prompts JSON file")
        self.export_button = QPushButton("E&xport…", self)
        self.export_button.setObjectName("promptExportButton")
        self.export_button.setToolTip("Write every prompt to a JSON file")
        self.status = QLabel(self)
        self.status.setObjectName("promptsStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)

        self._build_layout(close)
        self._build_actions()
        self._connect_signals()
        self.reload()
        self._show(None)
        self.resize(760, 480)

    def _build_layout(self, close: QDialogButtonBox) -> None:
        left = QVBoxLayout()
        left.setSpacing(6)
        left.addWidget(self.filter)
        left.addWidget(self.list, 1)
        left.addWidget(self.empty, 1)
        left_buttons = QHBoxLayout()
        left_buttons.addWidget(self.new_button)
        left_buttons.addWidget(self.delete_button)
        left_buttons.addStretch(1)
        left.addLayout(left_buttons)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Na&me:", self.name)
        right = QVBoxLayout()
        right.setSpacing(6)
        right.addLayout(form)
        text_label = QLabel("&Text:", self)
        text_label.setBuddy(self.text)
        right.addWidget(text_label)
        right.addWidget(self.text, 1)
        right.addWidget(self.variables)
        right.addWidget(self.error)
        right_buttons = QHBoxLayout()
        right_buttons.addStretch(1)
        right_buttons.addWidget(self.revert_button)
        right_buttons.addWidget(self.save_button)
        right.addLayout(right_buttons)
        panes = QHBoxLayout()
        panes.setSpacing(16)
        panes.addLayout(left, 2)
        panes.addLayout(right, 3)
        bottom = QHBoxLayout()
        bottom.addWidget(self.import_button)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(12)
        layout.addLayout(panes, 1)
        layout.addLayout(bottom)

    def _build_actions(self) -> None:
        for keys, slot in (
            (QKeySequence.StandardKey.Save, self.on_save),
            (QKeySequence.StandardKey.New, self.on_new),
        ):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            self.addAction(action)
        delete = QAction(self.list)
        delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self.on_delete)
        self.list.addAction(delete)

    def _connect_signals(self) -> None:
        self.filter.textChanged.connect(self.on_filter_changed)
        self.list.currentItemChanged.connect(self.on_current_item_changed)
        self.new_button.clicked.connect(self.on_new)
        self.delete_button.clicked.connect(self.on_delete)
        self.name.textChanged.connect(self.on_edited)
        self.text.textChanged.connect(self.on_edited)
        self.save_button.clicked.connect(self.on_save)
        self.revert_button.clicked.connect(self.on_revert)
        self.import_button.clicked.connect(self.on_import)
        self.export_button.clicked.connect(self.on_export)

    # -- the list ----------------------------------------------------------------------

    def reload(self, select_id: int | None = None) -> None:
        """Read the prompts again and list those the filter keeps."""
        try:
            self._records = self._prompts.list(self._user_id)
        except ServiceError as error:
            self._records = []
            self.say(str(error), error=True)
        self._fill_list(select_id)

    def _fill_list(self, select_id: int | None) -> None:
        self._fills += 1
        self._switching = True
        try:
            self.list.clear()
            for record in ranked(self._records, self.filter.text()):
                item = QListWidgetItem(record.name, self.list)
                item.setData(ID_ROLE, record.id)
                item.setToolTip(record.text[:500])
                if record.id == select_id:
                    self.list.setCurrentItem(item)
        finally:
            self._switching = False
        has_any = bool(self._records)
        self.list.setVisible(has_any)
        self.empty.setVisible(not has_any)
        self.export_button.setEnabled(has_any)

    def names(self) -> list[str]:
        """The names listed, in order (for tests and scripts)."""
        return [self.list.item(row).text() for row in range(self.list.count())]

    def on_filter_changed(self) -> None:
        self._fill_list(self._current.id if self._current else None)

    def on_current_item_changed(
        self, current: QListWidgetItem | None, previous: QListWidgetItem | None
    ) -> None:
        if self._switching:
            return
        target = current.data(ID_ROLE) if current is not None else None
        fills = self._fills
        if not self._may_leave():
            if previous is not None:
                self._switching = True
                self.list.setCurrentItem(previous)
                self._switching = False
            return
        if self._fills != fills:  # a save on the way rebuilt the list: choose again
            self._fill_list(target)
        self._show(next((r for r in self._records if r.id == target), None))

    def select(self, name: str) -> None:
        """Choose the prompt listed as ``name`` (for tests and scripts)."""
        for row in range(self.list.count()):
            if self.list.item(row).text() == name:
                self.list.setCurrentRow(row)
                return
        raise KeyError(name)

    # -- the editor --------------------------------------------------------------------

    def _show(self, record: PromptRecord | None, *, new: bool = False) -> None:
        self._current = record
        self._editing_new = new
        self._switching = True
        try:
            self.name.setText(record.name if record else "")
            self.text.setPlainText(record.text if record else "")
        finally:
            self._switching = False
        editable = record is not None or new
        for widget in (self.name, self.text):
            widget.setEnabled(editable)
        self.delete_button.setEnabled(record is not None)
        self.save_button.setText("&Add" if new else "&Save")
        self.error.hide()
        self.on_edited()

    def is_dirty(self) -> bool:
        if self._current is not None:
            return (self.name.text(), self.text.toPlainText()) != (
                self._current.name,
                self._current.text,
            )
        return self._editing_new and bool(self.name.text().strip() or self.text.toPlainText())

    def on_edited(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)
        self.save_button.setDefault(dirty)
        if not self._switching:
            self.error.hide()
        found = variables(self.text.toPlainText())
        if len(self.text.toPlainText()) > MAX_TEXT_CHARS:
            self.variables.setText(f"Too long: at most {MAX_TEXT_CHARS:,} characters.")
        elif found:
            shown = ", ".join(
                f"{v.name} (default: {v.default})" if v.default else v.name for v in found
            )
            self.variables.setText(f"Asks for: {shown}")
        elif self.name.isEnabled():
            self.variables.setText("No variables: inserted as it is.")
        else:
            self.variables.setText("Choose a prompt, or New to write one.")

    def on_new(self) -> None:
        if not self._may_leave():
            return
        self._switching = True
        self.list.setCurrentRow(-1)
        self.list.clearSelection()
        self._switching = False
        self._show(None, new=True)
        self.name.setFocus()

    def on_revert(self) -> None:
        self._show(self._current, new=self._editing_new)

    def on_save(self) -> bool:
        """Store the name and text; False (and the reason shown) when refused."""
        if not self.is_dirty():
            return True
        name, text = self.name.text(), self.text.toPlainText()
        try:
            if self._current is None:
                record = self._prompts.create(self._user_id, name, text)
            else:
                record = self._prompts.update(self._user_id, self._current.id, name=name, text=text)
        except ServiceError as error:
            self.error.setText(str(error))
            self.error.show()
            return False
        self.reload(select_id=record.id)
        self._show(record)
        self.say(f"Saved “{record.name}”.")
        return True

    def _may_leave(self) -> bool:
        """Unsaved changes are saved, discarded or kept (the person says which)."""
        if not self.is_dirty():
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved prompt — chatdesk",
            "Save the changes to this prompt first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.on_save()
        return answer == QMessageBox.StandardButton.Discard

    def reject(self) -> None:
        if self._may_leave():
            super().reject()

    # -- delete --------------------------------------------------------------------------

    def on_delete(self) -> QMessageBox | None:
        """Ask, then delete the chosen prompt (returns the question for tests)."""
        record = self._current
        if record is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete prompt — chatdesk",
            f"Delete the prompt “{record.name}”? This cannot be undone.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("promptDeleteConfirm")
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.buttonClicked.connect(lambda button: self._delete(record) if button is delete else None)
        box.open()
        return box

    def _delete(self, record: PromptRecord) -> None:
        try:
            self._prompts.delete(self._user_id, record.id)
        except ServiceError as error:
            self.say(str(error), error=True)
        else:
            self.say(f"Deleted “{record.name}”.")
        self.reload()
        self._show(None)

    # -- import and export ---------------------------------------------------------------

    def on_import(self) -> None:
        if not self._may_leave():
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Import prompts — chatdesk", "", "Prompts (*.json);;All files (*)"
        )
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> ImportOutcome | None:
        """Add the prompts of ``path``; says what happened (None: nothing imported)."""
        try:
            outcome = self._prompts.import_prompts(self._user_id, read_prompts(path))
        except PromptFileError as error:
            self.say(f"Nothing imported from {path.name}: {error}", error=True)
            return None
        except ServiceError as error:
            self.say(f"Nothing imported from {path.name}: {error}", error=True)
            return None
        self.reload()
        self._show(None)
        self.say(describe_import(path.name, outcome), error=bool(outcome.refused))
        return outcome

    def on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export prompts — chatdesk", "prompts.json", "Prompts (*.json)"
        )
        if path:
            self.export_file(Path(path))

    def export_file(self, path: Path) -> bool:
        try:
            export_prompts(path, self._prompts.list(self._user_id))
        except (OSError, ServiceError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            self.say(f"Could not write {path.name}: {reason}.", error=True)
            return False
        self.say(f"Exported {len(self._records)} prompts to {path.name}.")
        return True

    def say(self, message: str, *, error: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: palette(bright-text);" if error else "")
