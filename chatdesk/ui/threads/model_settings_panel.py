"""The open chat's model settings: a header button and the popup panel it opens.

``chatModelSettings`` holds ``temperatureSpin``, ``topPSpin``, ``maxTokensSpin``,
``contextBudgetSpin`` and, only for a model that has one, ``reasoningEffortCombo``.
Each box shows "Default" (naming the crew's or Settings' value when there is one)
while the chat leaves it unset, and has a reset button beside it. A value is saved
when it is committed (Enter, an arrow step, leaving the box: no write per keystroke)
through ``services.chat_model_settings`` on the GUI thread; when the database refuses
(locked, disk full) the panel says so, keeps what was typed and saves it all with the
next change. The panel is a popup: Escape or a click outside closes it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from typing import TypeVar

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk import preferences as pref
from chatdesk.model_params import (
    CHARS_PER_TOKEN,
    CONTEXT_TOKENS_RANGE,
    DEFAULT_CONTEXT_TOKENS,
    MAX_TOKENS_RANGE,
    REASONING_EFFORTS,
    TEMPERATURE_RANGE,
    TOP_P_RANGE,
    ModelParams,
    has_reasoning_effort,
    provider_default,
    takes_sampling,
)
from chatdesk.runs.providers import ENV_MODEL
from chatdesk.runs.run_settings import crew_defaults
from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.records import ThreadRecord
from chatdesk.ui.settings import UiSettings

_Spin = TypeVar("_Spin", QDoubleSpinBox, QSpinBox)

BUTTON_TEXT = "Model settings"
DEFAULT_TEXT = "Default"
NOTE = "Unset values follow the crew, then the provider."
LABELS = {
    "temperature": "temperature",
    "top_p": "top-p",
    "max_tokens": "max output tokens",
    "context_tokens": "context budget",
    "reasoning_effort": "reasoning effort",
}
PANEL_WIDTH = 400
# Spin boxes hold one step below each range for "Default" (Qt's special value text).
TEMPERATURE_STEP, TOP_P_STEP = 0.1, 0.05
MAX_TOKENS_STEP, CONTEXT_STEP = 256, 1000


def _route_name(model: str) -> str:
    """The provider a model string names ("openai/gpt-4o" → "openai")."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def default_text(value: float | int | None, source: str = "") -> str:
    """ "Default", naming the value a chat gets while it sets none and where it comes from
    ("Default (0.7, crew)", "Default (3,000)")."""
    if value is None:
        return DEFAULT_TEXT
    shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
    return f"{DEFAULT_TEXT} ({shown}, {source})" if source else f"{DEFAULT_TEXT} ({shown})"


def _put(box: _Spin, value: float | int | None, default: str) -> None:
    """Show ``value`` in ``box`` (its lowest value, "Default", when unset) silently."""
    box.blockSignals(True)
    box.setSpecialValueText(default)
    if isinstance(box, QSpinBox):
        box.setValue(box.minimum() if value is None else int(value))
    else:
        box.setValue(box.minimum() if value is None else float(value))
    box.blockSignals(False)


class ModelSettingsPanel(QFrame):
    """``chatModelSettings``: the boxes of one chat's model settings (a popup).

    Signals:
        error: a change could not be saved (str, for the person).
        saved: the chat's settings were stored (the ``ModelParams`` now stored).
    """

    error = Signal(str)
    saved = Signal(object)

    def __init__(
        self, services: Services, user_id: int, settings: UiSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("chatModelSettings")
        self.setAccessibleName("Model settings of this chat")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(PANEL_WIDTH)
        self._services = services
        self._user_id = user_id
        self._settings = settings
        self._record: ThreadRecord | None = None

        title = QLabel("Model settings for this chat", self)
        title.setObjectName("modelSettingsTitle")
        font = title.font()
        font.setBold(True)
        title.setFont(font)

        self.temperature = self._double("temperatureSpin", "Temperature", TEMPERATURE_RANGE, 2)
        self.temperature.setSingleStep(TEMPERATURE_STEP)
        self.top_p = self._double("topPSpin", "Top-p", TOP_P_RANGE, 2)
        self.top_p.setSingleStep(TOP_P_STEP)
        self.max_tokens = self._int("maxTokensSpin", "Max output tokens", MAX_TOKENS_RANGE)
        self.max_tokens.setSingleStep(MAX_TOKENS_STEP)
        self.context = self._int("contextBudgetSpin", "Context budget", CONTEXT_TOKENS_RANGE)
        self.context.setSingleStep(CONTEXT_STEP)
        self.context.setSuffix(" tokens")
        self.context.setToolTip(
            "How much of the conversation is sent with each message, in tokens "
            f"(about {CHARS_PER_TOKEN} characters each); the oldest messages go first"
        )
        self.effort = QComboBox(self)
        self.effort.setObjectName("reasoningEffortCombo")
        self.effort.setAccessibleName("Reasoning effort")
        self.effort.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.effort.addItem(DEFAULT_TEXT, None)
        for level in REASONING_EFFORTS:
            self.effort.addItem(level.capitalize(), level)

        self.form = QFormLayout()
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(10)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.resets: dict[str, QToolButton] = {}
        previous: QWidget | None = None
        for name, label, box in (
            ("temperature", "&Temperature", self.temperature),
            ("top_p", "Top-&p", self.top_p),
            ("max_tokens", "&Max output tokens", self.max_tokens),
            ("context_tokens", "&Context budget", self.context),
            ("reasoning_effort", "&Reasoning effort", self.effort),
        ):
            self.form.addRow(label, self._with_reset(name, box))
            if previous is not None:  # Tab: each box, then its Reset, then the next box
                QWidget.setTabOrder(previous, box)
            QWidget.setTabOrder(box, self.resets[name])
            previous = self.resets[name]
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setProperty("muted", True)
        self.failure = QLabel(self)
        self.failure.setObjectName("modelSettingsError")
        self.failure.setWordWrap(True)
        self.failure.setProperty("error", True)
        self.failure.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addLayout(self.form)
        layout.addWidget(self.note)
        layout.addWidget(self.failure)

        for box in (self.temperature, self.top_p, self.max_tokens, self.context):
            box.valueChanged.connect(self.on_edited)
        self.effort.activated.connect(self.on_edited)

    # -- building --------------------------------------------------------------------

    def _double(
        self, name: str, accessible: str, bounds: tuple[float, float], decimals: int
    ) -> QDoubleSpinBox:
        box = QDoubleSpinBox(self)
        box.setDecimals(decimals)
        step = TEMPERATURE_STEP if name == "temperatureSpin" else TOP_P_STEP
        box.setRange(bounds[0] - step, bounds[1])  # the lowest value is "Default"
        return self._spin(box, name, accessible)

    def _int(self, name: str, accessible: str, bounds: tuple[int, int]) -> QSpinBox:
        box = QSpinBox(self)
        box.setRange(bounds[0] - 1, bounds[1])  # the lowest value is "Default"
        box.setGroupSeparatorShown(True)
        return self._spin(box, name, accessible)

    def _spin(self, box: _Spin, name: str, accessible: str) -> _Spin:
        box.setObjectName(name)
        box.setAccessibleName(accessible)
        box.setSpecialValueText(DEFAULT_TEXT)
        box.setKeyboardTracking(False)  # valueChanged when committed, not per keystroke
        box.setAccelerated(True)
        box.setMinimumWidth(170)
        return box

    def _with_reset(self, name: str, box: QWidget) -> QWidget:
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(box, 1)
        reset = QToolButton(row)
        reset.setObjectName(f"reset_{name}")
        reset.setText("Reset")
        reset.setAccessibleName(f"Reset {box.accessibleName().lower()}")
        reset.setToolTip("Back to the default")
        reset.clicked.connect(lambda: self.reset(name))
        layout.addWidget(reset)
        self.resets[name] = reset
        return row

    # -- showing ---------------------------------------------------------------------

    def model(self) -> str:
        """The model the chat's next run uses (the environment's, the chat's, Settings')."""
        env = os.environ.get(ENV_MODEL, "").strip()
        own = (self._record.model or "") if self._record else ""
        return env or own.strip() or self._settings.model

    def follow(self, record: ThreadRecord | None) -> None:
        """Belong to ``record`` from now on; its settings are read when the panel opens
        (what another chat could not save is not shown for this one)."""
        if record is None or self._record is None or record.id != self._record.id:
            self.failure.hide()
        self._record = record

    def set_thread(self, record: ThreadRecord | None) -> None:
        """Show ``record``'s settings (read again: they may have changed elsewhere);
        what could not be saved stays on screen while the same chat is shown."""
        same = record is not None and self._record is not None and record.id == self._record.id
        self._record = record
        if same and not self.failure.isHidden():
            return
        self.failure.hide()
        params = ModelParams()
        if record is not None:
            try:
                params = self._services.chat_model_settings.get(self._user_id, record.id)
            except ServiceError as error:
                self._fail(error)
        self._show(params)

    def _show(self, params: ModelParams) -> None:
        crew = crew_defaults(self._record.crew) if self._record else ModelParams()
        model = self.model()
        sampling = takes_sampling(model)
        provider = _route_name(model)
        for name, double, number, crew_number in (
            ("temperature", self.temperature, params.temperature, crew.temperature),
            ("top_p", self.top_p, params.top_p, crew.top_p),
        ):
            _put(
                double,
                number,
                default_text(crew_number, "crew")
                if crew_number is not None
                else default_text(provider_default(model, name), provider),
            )
        global_max = self._settings.value(pref.MAX_TOKENS)
        _put(
            self.max_tokens,
            params.max_tokens,
            default_text(crew.max_tokens, "crew")
            if crew.max_tokens
            else default_text(global_max, "Settings"),
        )
        _put(
            self.context,
            params.context_tokens,
            default_text(crew.context_tokens, "crew")
            if crew.context_tokens
            else default_text(DEFAULT_CONTEXT_TOKENS),
        )
        self.note.setText(
            NOTE
            if sampling
            else f"{NOTE} {model.rsplit('/', 1)[-1]} takes no temperature or top-p: not sent."
        )
        for box in (self.temperature, self.top_p):
            box.setEnabled(sampling)
            box.setToolTip("" if sampling else f"{model} takes no {box.accessibleName().lower()}")
        self.effort.setCurrentIndex(max(0, self.effort.findData(params.reasoning_effort)))
        self.form.setRowVisible(4, has_reasoning_effort(model))
        for name, reset in self.resets.items():
            reset.setEnabled(getattr(params, name) is not None)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.temperature.setFocus(Qt.FocusReason.PopupFocusReason)
        if not self.temperature.isEnabled():
            self.max_tokens.setFocus(Qt.FocusReason.PopupFocusReason)

    def open_below(self, anchor: QWidget) -> None:
        """Show the panel under ``anchor``, kept on its screen."""
        self.set_thread(self._record)
        self.adjustSize()
        where = anchor.mapToGlobal(QPoint(anchor.width() - self.width(), anchor.height() + 2))
        screen = anchor.screen().availableGeometry()
        x = min(max(where.x(), screen.left()), screen.right() - self.width())
        y = min(where.y(), screen.bottom() - self.height())
        self.move(x, y)
        self.show()
        self.raise_()
        self.activateWindow()

    # -- edits -----------------------------------------------------------------------

    def shown(self) -> ModelParams:
        """What the boxes say (a box at its lowest: unset)."""

        def spin(box: QDoubleSpinBox | QSpinBox) -> float | int | None:
            return None if box.value() <= box.minimum() else box.value()

        temperature, top_p = spin(self.temperature), spin(self.top_p)
        max_tokens, context = spin(self.max_tokens), spin(self.context)
        effort = self.effort.currentData()
        return ModelParams(
            temperature=round(float(temperature), 2) if temperature is not None else None,
            top_p=round(float(top_p), 2) if top_p is not None else None,
            max_tokens=int(max_tokens) if max_tokens is not None else None,
            context_tokens=int(context) if context is not None else None,
            reasoning_effort=effort if isinstance(effort, str) else None,
        )

    def on_edited(self, *_args: object) -> None:
        self.save(self.shown())

    def reset(self, name: str) -> None:
        self.save(replace(self.shown(), **{name: None}))

    def save(self, params: ModelParams) -> bool:
        """Store ``params`` for the chat; on failure say why and keep them on screen."""
        if self._record is None:
            return False
        try:
            saved = self._services.chat_model_settings.set(self._user_id, self._record.id, params)
        except ServiceError as error:
            self._fail(error)
            self._show(params)  # what was typed stays; the next change saves it all
            return False
        self.failure.hide()
        self._show(saved)
        self.saved.emit(saved)
        return True

    def _fail(self, error: ServiceError) -> None:
        self.failure.setText(f"Not saved: {error}")
        self.failure.show()
        self.error.emit(f"The model settings were not saved: {error}")


class ModelSettingsButton(QToolButton):
    """``modelSettingsButton``: opens the chat's :class:`ModelSettingsPanel` below it;
    "Model settings ✓" when the chat has values of its own."""

    def __init__(
        self, services: Services, user_id: int, settings: UiSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelSettingsButton")
        self.setAccessibleName("Model settings of this chat")
        self.setToolTip("Temperature, top-p, output and context limits of this chat")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setText(BUTTON_TEXT)
        self.panel = ModelSettingsPanel(services, user_id, settings, self)
        self.panel.saved.connect(self._show_state)
        self.clicked.connect(self.open_panel)
        self._services = services
        self._user_id = user_id
        self._record: ThreadRecord | None = None

    def set_thread(self, record: ThreadRecord | None) -> None:
        self._record = record
        self.setEnabled(record is not None)
        if self.panel.isVisible():
            self.panel.set_thread(record)  # read again: changed here or elsewhere
        else:
            self.panel.follow(record)
        params = ModelParams()
        if record is not None:
            with contextlib.suppress(ServiceError):  # no tick; the panel says why when opened
                params = self._services.chat_model_settings.get(self._user_id, record.id)
        self._show_state(params)

    def _show_state(self, params: ModelParams) -> None:
        own = not params.is_empty
        self.setText(f"{BUTTON_TEXT} ✓" if own else BUTTON_TEXT)
        self.setProperty("active", own)
        self.setToolTip(
            "This chat's own: "
            + ", ".join(f"{LABELS[key]} {value}" for key, value in params.to_dict().items())
            if own
            else "Temperature, top-p, output and context limits of this chat"
        )

    def open_panel(self) -> None:
        """Open the panel under the button, or under the header while the button is
        hidden (a narrow header: the Chat menu's entry)."""
        if self._record is None:
            return
        parent = self.parentWidget()
        anchor = parent if not self.isVisible() and parent is not None else self
        self.panel.open_below(anchor)
