"""The small form that asks for a saved prompt's variables before it is inserted.

One line per variable, its default filled in and selected (typing replaces it); Tab
moves between the fields, Enter inserts, Escape cancels. Values are one line each: a
prompt's variable is a word or a phrase, the composer is where longer text is written.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services.prompt_text import Variable, fill

MAX_VALUE_CHARS = 5_000


class PromptVariablesDialog(QDialog):
    """Asks for each variable of ``text``; ``filled()`` is the text to insert."""

    def __init__(
        self, name: str, text: str, found: list[Variable], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("promptVariables")
        self.setWindowTitle(f"{name} — chatdesk")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self._text = text
        self.fields: dict[str, QLineEdit] = {}
        intro = QLabel("Fill in the prompt’s blanks (Tab: next, Enter: insert).", self)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for index, variable in enumerate(found):
            field = QLineEdit(variable.default, self)
            field.setObjectName(f"promptVariable{index}")
            field.setAccessibleName(variable.name)
            field.setMaxLength(MAX_VALUE_CHARS)
            field.setPlaceholderText(variable.name)
            field.setMinimumWidth(260)
            label = QLabel(f"{variable.name}:", self)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setBuddy(field)
            form.addRow(label, field)
            self.fields[variable.name] = field
        buttons = QDialogButtonBox(self)
        self.insert_button = buttons.addButton("Insert", QDialogButtonBox.ButtonRole.AcceptRole)
        self.insert_button.setObjectName("promptVariablesInsert")
        self.insert_button.setDefault(True)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        first = next(iter(self.fields.values()), None)
        if first is not None:
            first.setFocus()
            first.selectAll()

    def values(self) -> dict[str, str]:
        return {name: field.text() for name, field in self.fields.items()}

    def filled(self) -> str:
        """The prompt's text with the values given."""
        return fill(self._text, self.values())
