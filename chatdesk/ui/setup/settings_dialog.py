"""The Settings dialog: which model answers, the default crew, and how chatdesk looks.

Everything but the API key is written to ``ui.ini`` (:class:`UiSettings`). The key
goes to the OS keyring through :mod:`chatdesk.secrets` and nowhere else; when this
system has no keyring the key field is disabled and says to use
``CHATDESK_LLM_API_KEY`` instead. Nothing is saved until Save, and a bad base URL
keeps the dialog open with the reason next to the field.
"""

from __future__ import annotations

import html
import itertools
import logging
import os
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from chatdesk.config import data_dir
from chatdesk.preferences import FONT_SIZE_RANGE
from chatdesk.redact import redact
from chatdesk.runs.crew_choice import CrewInfo
from chatdesk.runs.model_catalog import ModelListError, ModelListing, list_models_at
from chatdesk.runs.providers import ENV_BASE_URL, ENV_MODEL, LocalServer
from chatdesk.secrets import (
    API_KEY_ENV,
    SecretStoreUnavailableError,
    keyring_status,
    set_api_key,
    stored_api_key,
)
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.setup.local_probe import LocalServerProbe
from chatdesk.ui.setup.mcp_servers_dialog import McpServersDialog
from chatdesk.ui.setup.provider_choices import (
    PROVIDERS,
    ProviderChoice,
    base_url_problem,
    guess_provider,
    local_provider,
    provider_choice,
)
from chatdesk.ui.tasks import LatestCall, Tasks
from chatdesk.ui.theme import ThemeMode

log = logging.getLogger(__name__)

VISION_LABELS = (
    ("auto", "As the provider says of the model"),
    ("images", "Sees images"),
    ("text", "Text only (told the file names)"),
)
THEME_LABELS = (
    (ThemeMode.SYSTEM, "Follow system"),
    (ThemeMode.LIGHT, "Light"),
    (ThemeMode.DARK, "Dark"),
)
FONT_DEFAULT_TEXT = "Default"


def _section(text: str, parent: QWidget, *, first: bool = False) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("settingsSection")
    label.setContentsMargins(0, 0 if first else 10, 0, 2)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _note(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setProperty("muted", True)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)  # under its field
    return label


class SettingsDialog(QDialog):
    """Edits ``settings``; emits ``saved`` after Save wrote them.

    Signals:
        saved: the settings (and perhaps the key) were written.
    """

    saved = Signal()

    def __init__(
        self,
        settings: UiSettings,
        crews: Sequence[CrewInfo],
        probe: LocalServerProbe | None = None,
        parent: QWidget | None = None,
        *,
        tasks: Tasks | None = None,
    ) -> None:
        """``tasks``: the window's, so the model list is never asked for past its end."""
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings — chatdesk")
        self.setModal(True)
        # A fixed width lets the wrapped notes take exactly the height they need.
        self.setFixedWidth(580)
        self.settings = settings
        self._crews = [c for c in crews if c.usable]
        self._probe = probe
        self._previous_suggestions: list[str] = []
        self._key_status = keyring_status()
        self._listed: ModelListing | None = None
        self._listed_for: str | None = None  # the provider id the listing belongs to
        self._listing_for: str | None = None  # the provider id of the call that is out
        self.model_lister = LatestCall("chatdesk-model-list", tasks or Tasks(self), self)
        self._build()
        self._load()
        self._connect_signals()
        self.list_models()
        if probe is not None:
            if probe.servers is not None:
                self.on_servers_found(probe.servers)
            if not probe.is_running():
                probe.start()

    # -- construction ----------------------------------------------------------------

    def _build(self) -> None:
        self.provider_combo = QComboBox(self)
        self.provider_combo.setObjectName("providerCombo")
        self.provider_combo.setAccessibleName("Provider")
        for choice in PROVIDERS:
            self.provider_combo.addItem(choice.label, choice.id)

        self.model_combo = QComboBox(self)
        self.model_combo.setObjectName("modelCombo")
        self.model_combo.setAccessibleName("Model")
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line = self.model_combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("e.g. gpt-4o-mini")
        self.model_preview = _note(self, "modelPreview")
        self.model_preview.setWordWrap(False)
        self.refresh_models_button = QPushButton("Refresh", self)
        self.refresh_models_button.setObjectName("refreshModelsButton")
        self.refresh_models_button.setAccessibleName("List the server's models again")
        self.refresh_models_button.setToolTip("Ask the server which models it offers")
        self.model_list_status = _note(self, "modelListStatus")
        self.env_note = _note(self, "envOverrideNote")
        self.env_note.setText(_env_override_text())
        self.env_note.setVisible(bool(self.env_note.text()))

        self.base_url_edit = QLineEdit(self)
        self.base_url_edit.setObjectName("baseUrlEdit")
        self.base_url_edit.setAccessibleName("Base URL")
        self.base_url_edit.setClearButtonEnabled(True)

        self.api_key_edit = QLineEdit(self)
        self.api_key_edit.setObjectName("apiKeyEdit")
        self.api_key_edit.setAccessibleName("API key")
        self.api_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key_edit.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhSensitiveData
        )
        self.forget_key_button = QPushButton("Remove saved key", self)
        self.forget_key_button.setObjectName("forgetKeyButton")
        self.forget_key_button.setAccessibleName("Remove the saved API key")
        self.api_key_message = _note(self, "apiKeyMessage")

        self.local_servers_label = QLabel(self)
        self.local_servers_label.setObjectName("localServersLabel")
        self.local_servers_label.setProperty("muted", True)
        self.local_servers_label.setTextFormat(Qt.TextFormat.RichText)
        self.local_servers_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.local_servers_label.setVisible(False)

        self.vision_combo = QComboBox(self)
        self.vision_combo.setObjectName("visionCombo")
        self.vision_combo.setAccessibleName("Attached images")
        for value, label in VISION_LABELS:
            self.vision_combo.addItem(label, value)
        self.vision_combo.setToolTip(
            "Whether this model is sent the images you attach. A text-only model is told "
            "their names instead, and its reply says so."
        )

        self.titles_check = QCheckBox("The model names new chats after their first reply", self)
        self.titles_check.setObjectName("modelTitlesCheck")
        self.titles_check.setAccessibleName("The model names new chats")
        self.titles_check.setToolTip(
            "One short request more per chat. Off: a chat keeps the first line of its first "
            "message as its title."
        )

        self.crew_combo = QComboBox(self)
        self.crew_combo.setObjectName("defaultCrewCombo")
        self.crew_combo.setAccessibleName("Default crew")
        for info in self._crews:
            self.crew_combo.addItem(info.title, info.name)
            if info.description:
                index = self.crew_combo.count() - 1
                self.crew_combo.setItemData(index, info.description, Qt.ItemDataRole.ToolTipRole)

        self.theme_combo = QComboBox(self)
        self.theme_combo.setObjectName("themeCombo")
        self.theme_combo.setAccessibleName("Theme")
        for mode, label in THEME_LABELS:
            self.theme_combo.addItem(label, mode.value)

        self.font_spin = QSpinBox(self)
        self.font_spin.setObjectName("fontSizeSpin")
        self.font_spin.setAccessibleName("Chat font size")
        low, high = FONT_SIZE_RANGE
        self.font_spin.setRange(low - 1, high)  # the minimum stands for "Default"
        self.font_spin.setSpecialValueText(FONT_DEFAULT_TEXT)
        self.font_spin.setSuffix(" pt")

        self.mcp_button = QPushButton("MCP servers…", self)
        self.mcp_button.setObjectName("mcpServersButton")
        self.mcp_button.setToolTip("Tools for crews: the servers of mcp.json")
        self.mcp_button.clicked.connect(self.open_mcp_servers)

        self.error_label = QLabel(self)
        self.error_label.setObjectName("settingsError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setVisible(False)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )

        key_row = QHBoxLayout()
        key_row.setSpacing(8)
        key_row.addWidget(self.api_key_edit, 1)
        key_row.addWidget(self.forget_key_button)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(8)
        model_row = QHBoxLayout()
        model_row.setSpacing(8)
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.refresh_models_button)

        form.addRow(_section("Model", self, first=True))
        form.addRow("", self.env_note)
        form.addRow("&Provider", self.provider_combo)
        model_label = QLabel("&Model", self)
        model_label.setBuddy(self.model_combo)
        form.addRow(model_label, model_row)
        form.addRow("", self.model_preview)
        form.addRow("", self.model_list_status)
        form.addRow("", self.local_servers_label)
        form.addRow("&Base URL", self.base_url_edit)
        key_label = QLabel("API &key", self)
        key_label.setBuddy(self.api_key_edit)
        form.addRow(key_label, key_row)
        form.addRow("", self.api_key_message)
        form.addRow("&Images", self.vision_combo)
        form.addRow(_section("Chats", self))
        form.addRow("Default &crew", self.crew_combo)
        form.addRow("Titles", self.titles_check)
        form.addRow("Tools", self.mcp_button)
        form.addRow(_section("Appearance", self))
        form.addRow("&Theme", self.theme_combo)
        form.addRow("&Font size", self.font_spin)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        order: list[QWidget] = [
            self.provider_combo,
            self.model_combo,
            self.refresh_models_button,
            self.base_url_edit,
            self.api_key_edit,
            self.forget_key_button,
            self.vision_combo,
            self.crew_combo,
            self.titles_check,
            self.mcp_button,
            self.theme_combo,
            self.font_spin,
            self.buttons,
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

    def open_mcp_servers(self) -> McpServersDialog:
        """The MCP servers page, over this dialog (it saves on its own, at each change)."""
        dialog = McpServersDialog(data_dir(), self)
        dialog.setModal(True)
        dialog.show()
        return dialog

    def _connect_signals(self) -> None:
        self.provider_combo.currentIndexChanged.connect(self.on_provider_changed)
        self.model_combo.currentTextChanged.connect(self.on_model_text_changed)
        self.base_url_edit.textChanged.connect(self.on_base_url_changed)
        self.forget_key_button.clicked.connect(self.on_forget_key)
        self.local_servers_label.linkActivated.connect(self.on_use_server_link)
        self.refresh_models_button.clicked.connect(self.list_models)
        self.base_url_edit.editingFinished.connect(self.list_models)
        self.api_key_edit.editingFinished.connect(self.list_models)
        self.model_lister.succeeded.connect(self.on_models_listed)
        self.model_lister.failed.connect(self.on_models_not_listed)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        if self._probe is not None:
            self._probe.finished.connect(self.on_servers_found)

    def _load(self) -> None:
        s = self.settings
        choice = provider_choice(s.provider) or guess_provider(s.model)
        self._select_provider(choice)
        self._fill_provider_fields(choice)
        self.model_combo.setEditText(choice.model_name(s.model))
        self.base_url_edit.setText(s.base_url)
        self._select_data(self.vision_combo, s.vision)
        self._select_data(self.crew_combo, s.default_crew)
        self.titles_check.setChecked(s.model_titles)
        self._select_data(self.theme_combo, s.theme.value)
        size = s.font_size
        self.font_spin.setValue(size if size else self.font_spin.minimum())
        self.on_model_text_changed(self.model_combo.currentText())

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _select_data(combo: QComboBox, value: str) -> None:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)

    def _select_provider(self, choice: ProviderChoice) -> None:
        self.provider_combo.blockSignals(True)
        try:
            self._select_data(self.provider_combo, choice.id)
        finally:
            self.provider_combo.blockSignals(False)

    def provider(self) -> ProviderChoice:
        return provider_choice(str(self.provider_combo.currentData())) or PROVIDERS[0]

    def model_string(self) -> str:
        """The model as it will be saved (``ollama/llama3.2``), empty for none."""
        return self.provider().model_string(self.model_combo.currentText())

    def _suggestions(self, choice: ProviderChoice) -> list[str]:
        names = list(choice.examples)
        servers = self._probe.servers if self._probe is not None else None
        for server in servers or ():
            if server.kind == choice.local_kind:
                names = [*server.models, *(n for n in names if n not in server.models)]
        if self._listed is not None and self._listed_for == choice.id:
            listed = self._listed.names  # what the server itself says it has comes first
            names = [*listed, *(n for n in names if n not in listed)]
        return names

    def form_endpoint(self) -> tuple[str, str | None, str | None] | None:
        """Where the form points (provider prefix, base URL, key), to ask for the model
        list; None when that cannot be asked yet (no base URL, or no key for a cloud)."""
        choice = self.provider()
        base_url = self.base_url_edit.text().strip() or choice.default_base_url or None
        if choice.needs_base_url and not base_url:
            return None
        key = (
            self.api_key_edit.text().strip()
            or os.environ.get(API_KEY_ENV, "").strip()
            or stored_api_key(choice.id)
            or None
        )
        if choice.needs_key and not choice.needs_base_url and not key:
            return None  # a cloud provider lists nothing without one (a server of your own may)
        return choice.prefix, base_url, key

    def list_models(self) -> None:
        """Ask the form's server for its models in the background (Refresh does this)."""
        choice = self.provider()
        endpoint = self.form_endpoint()
        if endpoint is None or base_url_problem(endpoint[1] or "") is not None:
            self.model_lister.cancel()
            need = "the base URL" if choice.needs_base_url else "the API key"
            self._show_list_status(f"Enter {need} to list the models {choice.label} offers.")
            return
        self._listing_for = choice.id
        self._show_list_status("Asking the server for its models…")
        self.refresh_models_button.setEnabled(False)
        self.model_lister.call(lambda: list_models_at(*endpoint))

    def _show_list_status(self, text: str) -> None:
        self.model_list_status.setText(text)
        self.model_list_status.setVisible(bool(text))

    def _fill_provider_fields(self, choice: ProviderChoice) -> None:
        """Suggestions, placeholders and the key field for ``choice``."""
        text = self.model_combo.currentText()
        suggestions = self._suggestions(choice)
        self.model_combo.blockSignals(True)
        try:
            self.model_combo.clear()
            self.model_combo.addItems(suggestions)
            self.model_combo.setEditText(text)
        finally:
            self.model_combo.blockSignals(False)
        self._previous_suggestions = suggestions
        if choice.needs_base_url:
            self.base_url_edit.setPlaceholderText("Required, e.g. http://127.0.0.1:8000/v1")
        elif choice.default_base_url:
            self.base_url_edit.setPlaceholderText(choice.default_base_url)
        else:
            self.base_url_edit.setPlaceholderText(f"{choice.label}'s default")
        self._update_key_field(choice)

    def _update_key_field(self, choice: ProviderChoice) -> None:
        self.api_key_edit.clear()
        from_env = bool(os.environ.get(API_KEY_ENV))
        if not self._key_status.available:
            self.api_key_edit.setEnabled(False)
            self.api_key_edit.setPlaceholderText("No keyring on this system")
            self.forget_key_button.setVisible(False)
            self.api_key_message.setText(self._key_status.message)
            return
        stored = bool(stored_api_key(choice.id))
        self.api_key_edit.setEnabled(choice.needs_key or choice.needs_base_url)
        self.forget_key_button.setEnabled(stored)
        if not self.api_key_edit.isEnabled():
            self.api_key_edit.setPlaceholderText("Not needed for a server on this computer")
            self.api_key_message.setText("")
        else:
            self.api_key_edit.setPlaceholderText(
                "Saved in the keyring — type a new key to replace it"
                if stored
                else "Paste your API key (kept in the system keyring)"
            )
            self.api_key_message.setText(
                f"{API_KEY_ENV} is set in the environment and is used instead."
                if from_env
                else "The key is kept in the system keyring, never in a file."
            )
        self.api_key_message.setVisible(bool(self.api_key_message.text()))

    def show_error(self, text: str, focus: QWidget | None = None) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        if focus is not None:
            focus.setFocus(Qt.FocusReason.OtherFocusReason)

    def validate(self) -> str | None:
        """Why the form cannot be saved, or None."""
        choice = self.provider()
        return base_url_problem(
            self.base_url_edit.text(),
            required=choice.needs_base_url and bool(self.model_string()),
        )

    # -- slots -----------------------------------------------------------------------

    def on_provider_changed(self, _index: int) -> None:
        choice = self.provider()
        text = self.model_combo.currentText().strip()
        keep = bool(text) and text not in self._previous_suggestions
        self._fill_provider_fields(choice)
        if not keep:
            first = self._previous_suggestions[0] if self._previous_suggestions else ""
            self.model_combo.setEditText(first)
        if self.base_url_edit.text().strip() in {p.default_base_url for p in PROVIDERS}:
            self.base_url_edit.clear()
        self.on_model_text_changed(self.model_combo.currentText())
        self.list_models()

    def on_model_text_changed(self, _text: str) -> None:
        model = self.model_string()
        self.model_preview.setText(
            f"Replies will use {model}."
            if model
            else "No model: chats can be read and written, but nothing will answer."
        )

    def on_base_url_changed(self, _text: str) -> None:
        if self.error_label.isVisible():
            self.show_error(self.validate() or "")

    def on_forget_key(self) -> None:
        try:
            set_api_key(self.provider().id, None)
        except SecretStoreUnavailableError as error:
            self.show_error(str(error))
            return
        self._update_key_field(self.provider())

    def on_models_listed(self, listing: ModelListing) -> None:
        self.refresh_models_button.setEnabled(True)
        self._listed, self._listed_for = listing, self._listing_for
        count = len(listing.names)
        self._show_list_status(
            f"{count} model{'' if count == 1 else 's'} on this server: pick one from the list."
            if count
            else "The server lists no models: type the model name."
        )
        self._fill_provider_fields(self.provider())

    def on_models_not_listed(self, error: BaseException) -> None:
        self.refresh_models_button.setEnabled(True)
        if not isinstance(error, ModelListError):
            log.warning("listing models failed", exc_info=error)
        reason = str(error) if isinstance(error, ModelListError) else "Listing the models failed."
        self._show_list_status(f"{reason} You can still type the model name.")

    def on_servers_found(self, servers: list[LocalServer]) -> None:
        """List what runs on this computer, each with a link that picks it."""
        if not servers:
            self.local_servers_label.setVisible(False)
            return
        links = []
        for server in servers:
            count = len(server.models)
            links.append(
                f'<a href="use:{html.escape(server.kind)}">{html.escape(server.label)}</a>'
                f" ({count} model{'' if count == 1 else 's'})"
            )
        self.local_servers_label.setText("Found on this computer: " + " · ".join(links))
        self.local_servers_label.setVisible(True)
        self._fill_provider_fields(self.provider())

    def on_use_server_link(self, link: str) -> None:
        kind = link.removeprefix("use:")
        servers = self._probe.servers if self._probe is not None else None
        server = next((s for s in servers or () if s.kind == kind), None)
        choice = local_provider(kind)
        if server is None or choice is None:
            return
        self._select_data(self.provider_combo, choice.id)  # refills the suggestions
        self.model_combo.setEditText(server.models[0] if server.models else "")
        self.base_url_edit.setText(server.base_url)

    # -- saving ----------------------------------------------------------------------

    def save(self) -> bool:
        """Write the form; False (with the reason shown) when it cannot be saved."""
        problem = self.validate()
        if problem is not None:
            self.show_error(problem, self.base_url_edit)
            return False
        choice = self.provider()
        key = self.api_key_edit.text().strip()
        if key and self.api_key_edit.isEnabled():
            try:
                set_api_key(choice.id, key)
            except SecretStoreUnavailableError as error:
                self.show_error(str(error), self.api_key_edit)
                return False
            except Exception as error:  # a locked or refusing keyring
                log.warning("could not save the API key: %s", type(error).__name__)
                self.show_error(
                    f"The system keyring refused the key ({type(error).__name__}). "
                    f"Unlock it and try again, or set {API_KEY_ENV}.",
                    self.api_key_edit,
                )
                return False
            self.api_key_edit.clear()
        base_url = self.base_url_edit.text().strip()
        if not base_url and choice.local_kind and choice.prefix == "openai":
            base_url = choice.default_base_url  # else it would go to api.openai.com
        s = self.settings
        s.provider = choice.id
        s.model = self.model_string()
        s.base_url = base_url
        s.vision = str(self.vision_combo.currentData())
        crew = self.crew_combo.currentData()
        if isinstance(crew, str):
            s.default_crew = crew
        s.model_titles = self.titles_check.isChecked()
        s.theme = ThemeMode(str(self.theme_combo.currentData()))
        size = self.font_spin.value()
        s.font_size = 0 if size == self.font_spin.minimum() else size
        if not s.sync():
            log.warning("could not write the settings to %s", s.path)
            self.show_error(
                f"The settings could not be written to {s.path} (is the disk full, or the "
                "file read-only?). Your choices stay here: fix that, then Save again."
            )
            return False
        self.show_error("")
        self.saved.emit()
        return True

    def accept(self) -> None:
        if self.save():
            super().accept()


def _env_override_text() -> str:
    """Which ``CHATDESK_LLM_*`` variables win over what this dialog saves, in words."""
    parts = []
    model = os.environ.get(ENV_MODEL, "").strip()
    base_url = os.environ.get(ENV_BASE_URL, "").strip()
    if model:
        parts.append(f"{ENV_MODEL}={model}")
    if base_url:
        parts.append(f"{ENV_BASE_URL}={redact(base_url)}")
    if os.environ.get(API_KEY_ENV, "").strip():
        parts.append(f"{API_KEY_ENV} (a key)")
    if not parts:
        return ""
    return (
        f"Set in the environment, so replies use it instead of what is saved here: "
        f"{', '.join(parts)}."
    )
