"""The bar above the open chat: its title, and its crew, model and system prompt.

Changing a picker writes through ``ThreadService.update`` at once; the header then
follows the change bus like every other view, so an edit made elsewhere (a rename in
the sidebar, another window) shows here too. A thread whose model is empty follows
the model in Settings; the model picker's "Default" entry says which one that is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolButton,
    QWidget,
)

from chatdesk.preferences import MODEL_KEYS
from chatdesk.runs.crew_choice import CrewInfo
from chatdesk.runs.model_catalog import ModelListing, list_models
from chatdesk.runs.model_choice import resolve_config
from chatdesk.runs.model_settings import read_model_settings
from chatdesk.runs.providers import LocalServer
from chatdesk.services import Services
from chatdesk.services.errors import ServiceError, StorageError
from chatdesk.services.events import Change, ChangeKind
from chatdesk.services.records import ThreadRecord
from chatdesk.ui.scaled_font import keep_scaled
from chatdesk.ui.settings import UiSettings, configured_model
from chatdesk.ui.setup.provider_choices import guess_provider, provider_choice
from chatdesk.ui.tasks import LatestCall, Tasks
from chatdesk.ui.threads.knowledge_button import KnowledgeButton
from chatdesk.ui.threads.model_settings_panel import ModelSettingsButton
from chatdesk.ui.threads.tool_menu import ToolMenuButton
from chatdesk.ui.threads.usage_meter import ChatUsageMeter

log = logging.getLogger(__name__)

OTHER_MODEL = "\0other"
COMBO_MAX_WIDTH = 230
COMPACT_COMBO_MAX_WIDTH = 140
"""In a narrow header the combos elide their text so the chat's title keeps some room."""
LISTING_TTL_S = 300.0
"""How long the default server's model list is trusted before the picker asks again."""
COMBO_MIN_WIDTH = 96
TITLE_MIN_WIDTH = 160
COMPACT_TITLE_MIN_WIDTH = 60
PROMPT_TEXT, COMPACT_PROMPT_TEXT = "System prompt", "Prompt"
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
        self.keep_width = TITLE_MIN_WIDTH

    def minimumSizeHint(self) -> QSize:
        """Keep some of the title when space is short: the pickers give way first."""
        width = min(self.fontMetrics().horizontalAdvance(self.text()) + 2, self.keep_width)
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
    """A combo box as wide as its entries, that may shrink (eliding) when space is short.

    Signals:
        popup_opening: its list is about to open (a chance to bring it up to date).
    """

    popup_opening = Signal()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), COMBO_MIN_WIDTH), hint.height())

    def showPopup(self) -> None:
        self.popup_opening.emit()
        super().showPopup()

    def paintEvent(self, _event: QPaintEvent) -> None:
        """Qt clips a long entry mid-word ("Default (op"); this shortens it with "…"."""
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        label = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideRight, label.width()
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


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
        *,
        tasks: Tasks | None = None,
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
        self._listing: ModelListing | None = None
        self._listed_at = 0.0  # time.monotonic() of the last answer, 0 for none
        self._tasks = tasks or Tasks(self)
        self.model_lister = LatestCall("chatdesk-model-list", self._tasks, self)
        self.model_lister.succeeded.connect(self.on_models_listed)
        self.model_lister.failed.connect(self.on_models_not_listed)
        settings.changed.connect(self.on_setting_changed)

        self.title_label = ElidedLabel(self)
        self.title_label.setObjectName("threadTitle")
        self.title_label.setAccessibleName("Chat title")
        self.title_label.setToolTip("Double-click or press F2 to rename")
        keep_scaled(self.title_label, +1, bold=True)

        self.crew_combo = self._combo("threadCrewCombo", "Crew of this chat")
        self.crew_combo.setToolTip("Which crew answers in this chat")
        self.model_combo = self._combo("threadModelCombo", "Model of this chat")
        self.model_combo.setToolTip("Which model answers in this chat")
        self.prompt_button = QToolButton(self)
        self.prompt_button.setObjectName("systemPromptButton")
        self.prompt_button.setAccessibleName("System prompt of this chat")
        self.prompt_button.setText(PROMPT_TEXT)
        self.prompt_button.setToolTip("The system prompt of this chat")
        self.prompt_button.setCursor(Qt.CursorShape.PointingHandCursor)

        self.usage_meter = ChatUsageMeter(services, user_id, settings, self, tasks=self._tasks)
        self.usage_meter.problem.connect(self.error)

        layout = self._row = QHBoxLayout(self)
        layout.setContentsMargins(20, 8, 14, 8)
        layout.setSpacing(8)
        layout.addWidget(self.title_label, 1)
        layout.addWidget(self.usage_meter)
        layout.addSpacing(8)
        self._captions = (
            self._caption("Crew", self.crew_combo),
            self._caption("Model", self.model_combo),
        )
        self._compact = False
        layout.addWidget(self._captions[0])
        layout.addWidget(self.crew_combo)
        layout.addSpacing(4)
        layout.addWidget(self._captions[1])
        layout.addWidget(self.model_combo)
        layout.addSpacing(4)
        layout.addWidget(self.prompt_button)
        self.tools_button = ToolMenuButton(services, user_id, self)
        self.tools_button.error.connect(self.error)
        layout.addWidget(self.tools_button)
        self.knowledge_button = KnowledgeButton(services, user_id, self._tasks, self)
        layout.addWidget(self.knowledge_button)
        self.model_settings_button = ModelSettingsButton(services, user_id, settings, self)
        self.model_settings_button.panel.error.connect(self.error)
        layout.addWidget(self.model_settings_button)

        QWidget.setTabOrder(self.crew_combo, self.model_combo)
        QWidget.setTabOrder(self.model_combo, self.prompt_button)
        QWidget.setTabOrder(self.prompt_button, self.tools_button)
        QWidget.setTabOrder(self.tools_button, self.knowledge_button)
        QWidget.setTabOrder(self.knowledge_button, self.model_settings_button)
        self.crew_combo.activated.connect(self.on_crew_activated)
        self.model_combo.activated.connect(self.on_model_activated)
        self.model_combo.popup_opening.connect(self.on_model_popup_opening)
        self.prompt_button.clicked.connect(self.on_edit_prompt)
        self.title_label.double_clicked.connect(self.rename_requested)
        self.set_thread(None)

    # -- narrow windows --------------------------------------------------------------

    def minimumSizeHint(self) -> QSize:
        """As narrow as the compact form (no captions, short labels) can be."""
        width = self._row.minimumSize().width()
        if not self._compact:
            width -= self._compact_savings()
        return QSize(width, super().minimumSizeHint().height())

    def _compact_savings(self) -> int:
        """How much narrower the compact form is than the full one."""
        spacing = self._row.spacing()
        captions = sum(label.sizeHint().width() + spacing for label in self._captions)
        captions += self.knowledge_button.sizeHint().width() + spacing  # in the Chat menu then
        captions += self.model_settings_button.sizeHint().width() + spacing  # and this too
        captions += self.usage_meter.compact_savings()
        metrics = self.prompt_button.fontMetrics()
        prompt = metrics.horizontalAdvance(PROMPT_TEXT) - metrics.horizontalAdvance(
            COMPACT_PROMPT_TEXT
        )
        title = self.title_label.fontMetrics().horizontalAdvance(self.title_label.text()) + 2
        kept = min(title, TITLE_MIN_WIDTH) - min(title, COMPACT_TITLE_MIN_WIDTH)
        return captions + prompt + max(kept, 0)

    def _full_width(self) -> int:
        """The width below which the captions go and the labels shorten."""
        return self.minimumSizeHint().width() + self._compact_savings()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._set_compact(event.size().width() < self._full_width())
        super().resizeEvent(event)

    def _set_compact(self, compact: bool) -> None:
        if compact == self._compact:
            return
        self._compact = compact
        for label in self._captions:
            label.setVisible(not compact)
        self.knowledge_button.setVisible(not compact)
        self.model_settings_button.setVisible(not compact)
        self.usage_meter.set_compact(compact)
        for combo in (self.crew_combo, self.model_combo):
            combo.setMaximumWidth(COMPACT_COMBO_MAX_WIDTH if compact else COMBO_MAX_WIDTH)
        self._prompt_label()
        self.title_label.keep_width = COMPACT_TITLE_MIN_WIDTH if compact else TITLE_MIN_WIDTH
        self.title_label.updateGeometry()

    def _prompt_label(self) -> None:
        """ "System prompt", short in a narrow header, with a tick when the chat has one."""
        text = COMPACT_PROMPT_TEXT if self._compact else PROMPT_TEXT
        has_prompt = bool(self._record.system_prompt) if self._record else False
        self.prompt_button.setText(f"{text} ✓" if has_prompt else text)

    @property
    def compact(self) -> bool:
        return self._compact

    def _combo(self, name: str, accessible: str) -> ShrinkingComboBox:
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
        self.tools_button.set_thread(record.id if record else None)
        self.knowledge_button.set_thread(record.id if record else None)
        self.model_settings_button.set_thread(record)
        self.usage_meter.set_thread(record)
        self.setVisible(record is not None)
        self.title_label.setText(record.title if record else "")
        self._fill_crews()
        self._fill_models()
        self._show_prompt_state()

    def on_setting_changed(self, key: str) -> None:
        if key in MODEL_KEYS:  # another default model, perhaps on another server
            self.refresh()

    def refresh(self) -> None:
        """Re-read what depends on Settings (the default model and its suggestions)."""
        self._listing, self._listed_at = None, 0.0  # perhaps another server now
        self._fill_models()

    def list_models(self) -> None:
        """Ask the default model's server which models it has, in the background."""
        self.settings.sync()  # what Settings just saved, on disk for the reader
        settings = read_model_settings()

        def ask() -> ModelListing | None:
            config = resolve_config("", settings)  # reads the keyring: off the GUI thread
            return None if config is None or config.is_scripted else list_models(config)

        self.model_lister.call(ask)

    def on_model_popup_opening(self) -> None:
        stale = time.monotonic() - self._listed_at > LISTING_TTL_S
        if stale and not self.model_lister.is_running():
            self.list_models()

    def on_models_listed(self, listing: ModelListing | None) -> None:
        self._listing, self._listed_at = listing, time.monotonic()
        self._fill_models()

    def on_models_not_listed(self, error: BaseException) -> None:
        self._listed_at = time.monotonic()  # not again at every opening of the list
        log.info("the model list of the default server is not available: %s", error)

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
            if self._listing is not None and self._listing.provider == choice.prefix:
                names = [*self._listing.names, *names]  # what the server says it has
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
        self._prompt_label()
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
