"""The bar above the open chat: its title, and its crew, model and system prompt.

Changing a picker writes through ``ThreadService.update`` at once; the header then
follows the change bus like every other view, so an edit made elsewhere (a rename in
the sidebar, another window) shows here too. A thread whose model is empty follows
the model in Settings; the model picker's "Default" entry says which one that is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from chatdesk.engine.crews import CrewInfo
from chatdesk.engine.providers import LocalServer
from chatdesk.services import Services
from chatdesk.services.errors import ServiceError, StorageError
from chatdesk.services.events import Change, ChangeKind
from chatdesk.services.records import ThreadRecord
from chatdesk.ui.provider_choices import guess_provider, provider_choice
from chatdesk.ui.settings import UiSettings, configured_model

log = logging.getLogger(__name__)

OTHER_MODEL = "\0other"
COMBO_MAX_WIDTH = 230
COMBO_MIN_WIDTH = 96
TITLE_MIN_WIDTH = 160
PROMPT_LABEL = "Standing instructions for every reply in this chat (empty for none):"


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" instead of growing the window.

    Signals:
        double_clicked: the label was double-clicked.
    """

    double_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:
        """Keep some of the title when space is short: the pickers give way first."""
        width = min(self.fontMetrics().horizontalAdvance(self.text()) + 2, TITLE_MIN_WIDTH)
        return QSize(max(width, 40), super().minimumSizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        metrics = self.fontMetrics()
        shown = metrics.elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.drawText(rect, int(align), shown)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.double_clicked.emit()
        event.accept()


class ShrinkingComboBox(QComboBox):
    """A combo box as wide as its entries, that may shrink (eliding) when space is short."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), COMBO_MIN_WIDTH), hint.height())


class ThreadHeader(QFrame):
    """Shows and edits the open thread's crew, model and system prompt.

    Signals:
        rename_requested: the title was double-clicked.
        error: a change could not be saved (str, for the person).
    """

    rename_requested = Signal()
    error = Signal(str)

    def __init__(
        self,
        services: Services,
        user_id: int,
        settings: UiSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("threadHeader")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.services = services
        self.user_id = user_id
        self.settings = settings
        self._record: ThreadRecord | None = None
        self._crews: list[CrewInfo] = []
        self._servers: list[LocalServer] = []

        self.title_label = ElidedLabel(self)
        self.title_label.setObjectName("threadTitle")
        self.title_label.setAccessibleName("Chat title")
        self.title_label.setToolTip("Double-click or press F2 to rename")
        font = self.title_label.font()
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() + 1)
        self.title_label.setFont(font)

        self.crew_combo = self._combo("threadCrewCombo", "Crew of this chat")
        self.crew_combo.setToolTip("Which crew answers in this chat")
        self.model_combo = self._combo("threadModelCombo", "Model of this chat")
        self.model_combo.setToolTip("Which model answers in this chat")
        self.prompt_button = QToolButton(self)
        self.prompt_button.setObjectName("systemPromptButton")
        self.prompt_button.setAccessibleName("System prompt of this chat")
        self.prompt_button.setText("System prompt")
        self.prompt_button.setCursor(Qt.CursorShape.PointingHandCursor)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 8, 14, 8)
        layout.setSpacing(8)
        layout.addWidget(self.title_label, 1)
        layout.addSpacing(8)
        layout.addWidget(self._caption("Crew", self.crew_combo))
        layout.addWidget(self.crew_combo)
        layout.addSpacing(4)
        layout.addWidget(self._caption("Model", self.model_combo))
        layout.addWidget(self.model_combo)
        layout.addSpacing(4)
        layout.addWidget(self.prompt_button)

        QWidget.setTabOrder(self.crew_combo, self.model_combo)
        QWidget.setTabOrder(self.model_combo, self.prompt_button)
        self.crew_combo.activated.connect(self.on_crew_activated)
        self.model_combo.activated.connect(self.on_model_activated)
        self.prompt_button.clicked.connect(self.on_edit_prompt)
        self.title_label.double_clicked.connect(self.rename_requested)
        self.set_thread(None)

    def _combo(self, name: str, accessible: str) -> QComboBox:
        combo = ShrinkingComboBox(self)
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.setMaximumWidth(COMBO_MAX_WIDTH)
        combo.setMinimumContentsLength(8)
        return combo

    def _caption(self, text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text, self)
        label.setProperty("muted", True)
        label.setBuddy(buddy)
        return label

    # -- state -----------------------------------------------------------------------

    @property
    def record(self) -> ThreadRecord | None:
        return self._record

    def set_crews(self, crews: Sequence[CrewInfo]) -> None:
        self._crews = [c for c in crews if c.usable]
        self._fill_crews()

    def set_local_servers(self, servers: Sequence[LocalServer]) -> None:
        self._servers = list(servers)
        self._fill_models()

    def set_thread(self, record: ThreadRecord | None) -> None:
        """Show ``record`` (None hides the bar: there is nothing to describe)."""
        self._record = record
        self.setVisible(record is not None)
        self.title_label.setText(record.title if record else "")
        self._fill_crews()
        self._fill_models()
        self._show_prompt_state()

    def refresh(self) -> None:
        """Re-read what depends on Settings (the default model and its suggestions)."""
        self._fill_models()

    def on_thread_changed(self, change: Change) -> None:
        """Change-bus slot: follow edits of the shown thread, wherever they came from."""
        if self._record is None or change.id != self._record.id:
            return
        if change.kind is ChangeKind.DELETED:
            self.set_thread(None)
        elif isinstance(change.record, ThreadRecord):
            self.set_thread(change.record)

    # -- filling the pickers ---------------------------------------------------------

    def _fill_crews(self) -> None:
        combo = self.crew_combo
        combo.blockSignals(True)
        try:
            combo.clear()
            for info in self._crews:
                combo.addItem(info.title, info.name)
                if info.description:
                    combo.setItemData(
                        combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
                    )
            current = self._record.crew if self._record else None
            if current and combo.findData(current) < 0:
                combo.addItem(f"{current} (missing)", current)
            if current:
                combo.setCurrentIndex(combo.findData(current))
        finally:
            combo.blockSignals(False)

    def model_choices(self) -> list[tuple[str, str]]:
        """``(label, model)`` pairs of the model picker; "" is the Settings' model."""
        default = configured_model(self.settings)
        choices = [(f"Default ({default})" if default else "Default (none set)", "")]
        seen = {""}
        if default:
            settings_model = self.settings.model
            choice = provider_choice(self.settings.provider) or guess_provider(settings_model)
            names = list(choice.examples)
            for server in self._servers:
                if server.kind == choice.local_kind:
                    names = [*server.models, *names]
            for name in names:
                model = choice.model_string(name)
                if model not in seen and model != default:
                    seen.add(model)
                    choices.append((model, model))
        current = (self._record.model or "") if self._record else ""
        if current not in seen:
            choices.append((current, current))
        choices.append(("Other model…", OTHER_MODEL))
        return choices

    def _fill_models(self) -> None:
        combo = self.model_combo
        combo.blockSignals(True)
        try:
            combo.clear()
            for label, model in self.model_choices():
                combo.addItem(label, model)
            current = (self._record.model or "") if self._record else ""
            combo.setCurrentIndex(max(0, combo.findData(current)))
        finally:
            combo.blockSignals(False)

    def _show_prompt_state(self) -> None:
        prompt = self._record.system_prompt if self._record else None
        self.prompt_button.setProperty("active", bool(prompt))
        self.prompt_button.setText("System prompt ✓" if prompt else "System prompt")
        self.prompt_button.setToolTip(
            f"This chat's instructions:\n{prompt[:300]}"
            if prompt
            else "Give this chat standing instructions"
        )
        self.prompt_button.style().unpolish(self.prompt_button)
        self.prompt_button.style().polish(self.prompt_button)

    # -- edits -----------------------------------------------------------------------

    def _update(
        self, *, crew: str | None = None, model: str | None = None, prompt: str | None = None
    ) -> ServiceError | None:
        """Save one field; on failure say why, show the saved values again and return
        the error."""
        if self._record is None:
            return None
        threads, user, thread = self.services.threads, self.user_id, self._record.id
        try:
            if crew is not None:
                threads.update(user, thread, crew=crew)
            if model is not None:
                threads.update(user, thread, model=model or None)
            if prompt is not None:
                threads.update(user, thread, system_prompt=prompt)
        except ServiceError as error:
            self.error.emit(str(error))
            self.set_thread(self._record)  # put the pickers back
            return error
        return None

    def on_crew_activated(self, index: int) -> None:
        crew = self.crew_combo.itemData(index)
        if isinstance(crew, str) and self._record is not None and crew != self._record.crew:
            self._update(crew=crew)

    def on_model_activated(self, index: int) -> None:
        model = self.model_combo.itemData(index)
        if self._record is None or not isinstance(model, str):
            return
        if model == OTHER_MODEL:
            model = self._ask_model()
            if model is None:
                self._fill_models()
                return
        if model != (self._record.model or ""):
            self._update(model=model)

    def _ask_model(self) -> str | None:
        text, ok = QInputDialog.getText(
            self,
            "Model for this chat",
            "A model string such as openai/gpt-4o-mini or ollama/llama3.2\n"
            "(empty follows Settings):",
            QLineEdit.EchoMode.Normal,
            (self._record.model or "") if self._record else "",
        )
        return text.strip() if ok else None

    def on_edit_prompt(self) -> None:
        """Edit the system prompt; when the database refuses it (locked, disk full), the
        dialog comes back with the text and the reason, so nothing typed is lost."""
        if self._record is None:
            return
        text, label = self._record.system_prompt or "", PROMPT_LABEL
        while True:
            text, ok = QInputDialog.getMultiLineText(self, "System prompt", label, text)
            if not ok:
                return
            error = self._update(prompt=text)
            if not isinstance(error, StorageError):  # saved, or the text itself refused
                return
            label = f"Not saved: {error}\n\n{PROMPT_LABEL}"
