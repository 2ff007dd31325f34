"""The chat header's usage: the chat's tokens and cost, and its context meter.

Why read on events, not per token: the totals and the history size are read when a
chat opens and when something that moves them is committed (a run ends, a message
comes or goes, the path or the model changes), a short moment later so a burst of
changes costs one read; a reply's streamed text (saved about once a second) never
triggers one. Both reads are bounded (``services.usage``) and made off the GUI thread
(a chat of 10,000 runs sums in ~20 ms); the newest answer counts.

The meter is a short bar: the next run's history as a share of what it may take
(``runs.usage_costs.ContextFill``); amber from ``WARN_AT`` of it, red once older
messages are left out. Its tooltip says the numbers in words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QHideEvent, QPainter, QPaintEvent, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from chatdesk.config import data_dir
from chatdesk.model_params import CHARS_PER_TOKEN
from chatdesk.preferences import MODEL_KEYS
from chatdesk.runs.run_settings import context_budget_tokens
from chatdesk.runs.usage_costs import (
    WARN_AT,
    ChatTotals,
    ContextFill,
    Fill,
    Pricing,
)
from chatdesk.services import Services
from chatdesk.services.errors import ServiceError
from chatdesk.services.events import Change, ChangeKind
from chatdesk.services.records import ExecutionRecord, MessageRecord, ThreadRecord
from chatdesk.services.usage import HistorySize, ModelTotals
from chatdesk.ui.bridge import ChangeSignals
from chatdesk.ui.chat.usage_line import cost_text, tokens_text
from chatdesk.ui.settings import UiSettings
from chatdesk.ui.tasks import LatestCall, Tasks
from chatdesk.vocabulary import ACTIVE_MESSAGE_STATUSES, ExecutionStatus

log = logging.getLogger(__name__)

REFRESH_MS = 60
"""How long after a change the numbers are read again (a burst of changes: one read)."""
OPEN_DELAY_MS = 250
"""How long after a chat opens its numbers are read: after its first page is painted."""
BAR_W, BAR_H = 44, 6
COMPACT_BAR_W = 28
"""The meter's width in a narrow header, where it stands alone (words in its tooltip)."""
WARNING_COLOR = "#d97706"
TRIMMED_COLOR = "#dc2626"
FULL_TEMPLATE = "999.9k tokens · $0.0001"
"""The widest words the label shows, whose room it asks for (its layout stays put)."""
_ENDED = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


@dataclass(frozen=True)
class _Read:
    """What one read found for a chat."""

    thread_id: int
    totals: list[ModelTotals]
    history: HistorySize
    budget_chars: int


class UsageLabel(QLabel):
    """The words beside the meter: as wide as ``FULL_TEMPLATE`` when there is room, and
    when the header is short of it, the longest of its ``forms`` that fits (the shortest
    at least): numbers are never cut in the middle. ``text()`` is the full form."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.forms: tuple[str, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def set_forms(self, *forms: str) -> None:
        """The words from the longest form to the shortest."""
        if forms != self.forms:
            self.forms = forms
            self.setText(forms[0] if forms else "")
            self.updateGeometry()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        width = self.fontMetrics().horizontalAdvance(FULL_TEMPLATE) + 4
        return QSize(max(width, hint.width()), hint.height())

    def minimumSizeHint(self) -> QSize:
        """Room for the shortest form at least (``$0.04``): the pickers give way first."""
        shortest = self.fontMetrics().horizontalAdvance(self.forms[-1]) + 4 if self.forms else 0
        return QSize(shortest, super().minimumSizeHint().height())

    def shown_text(self) -> str:
        """The form that fits the label's width now ("" when none does)."""
        room = self.contentsRect().width()
        metrics = self.fontMetrics()
        return next((f for f in self.forms if metrics.horizontalAdvance(f) <= room), "")

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
        painter.drawText(self.contentsRect(), int(align), self.shown_text())


class ContextBar(QWidget):
    """The meter itself: a rounded track filled to the history's share."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contextMeter")
        self.fraction = 0.0
        self.state = Fill.OK
        self.setFixedSize(BAR_W, BAR_H + 6)

    def sizeHint(self) -> QSize:
        return QSize(self.width(), BAR_H + 6)

    def show_fill(self, fraction: float, state: Fill) -> None:
        self.fraction, self.state = max(0.0, min(fraction, 1.0)), state
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        track = QRectF(0.5, (self.height() - BAR_H) / 2, self.width() - 1.0, BAR_H)
        palette = self.palette()
        muted = QColor(palette.color(palette.ColorRole.WindowText))
        muted.setAlphaF(0.18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(muted)
        painter.drawRoundedRect(track, BAR_H / 2, BAR_H / 2)
        if self.state is Fill.TRIMMED:
            color = QColor(TRIMMED_COLOR)
        elif self.state is Fill.WARNING:
            color = QColor(WARNING_COLOR)
        else:
            color = palette.color(palette.ColorRole.Highlight)
        filled = track.adjusted(0, 0, -(track.width() * (1.0 - self.fraction)), 0)
        if self.fraction > 0:
            filled.setWidth(max(filled.width(), BAR_H))  # a sliver still reads as some
            painter.setBrush(color)
            painter.drawRoundedRect(filled, BAR_H / 2, BAR_H / 2)


class ChatUsageMeter(QWidget):
    """Tokens · cost · context meter of the open chat (objectName ``chatUsage``).

    Signals:
        problem: the price file could not be used (a sentence for the person, once).
    """

    problem = Signal(str)

    def __init__(
        self,
        services: Services,
        user_id: int,
        settings: UiSettings,
        parent: QWidget | None = None,
        *,
        tasks: Tasks | None = None,
        pricing: Pricing | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("chatUsage")
        self.setAccessibleName("Tokens, cost and context of this chat")
        self._services = services
        self._user_id = user_id
        self.pricing = pricing or Pricing(data_dir(create=False))
        self._record: ThreadRecord | None = None
        self._told: str | None = None
        self.totals = ChatTotals()
        self.fill: ContextFill | None = None
        self.label = UsageLabel(self)
        self.label.setObjectName("chatUsageTotal")
        self.label.setProperty("muted", True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = ContextBar(self)
        layout = self._row = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        self._reader = LatestCall("chatdesk-chat-usage", tasks or Tasks(self), self)
        self._reader.succeeded.connect(self.on_read)
        self._reader.failed.connect(self.on_not_read)
        self._changes = ChangeSignals(services.bus, user_id, self)
        self._changes.execution_changed.connect(self.on_execution_changed)
        self._changes.message_changed.connect(self.on_message_changed)
        settings.changed.connect(self.on_setting_changed)
        self._show()

    def set_compact(self, compact: bool) -> None:
        """A narrow header keeps a shorter meter alone; the numbers stay in its tooltip."""
        self.label.setVisible(not compact)
        self.bar.setFixedWidth(COMPACT_BAR_W if compact else BAR_W)

    def compact_savings(self) -> int:
        """How much narrower the compact form is (asked while the full one shows)."""
        return self.label.minimumSizeHint().width() + self._row.spacing() + BAR_W - COMPACT_BAR_W

    @property
    def state(self) -> Fill:
        """The meter's state (``Fill.OK`` while nothing is known)."""
        return self.fill.state if self.fill is not None else Fill.OK

    def set_thread(self, record: ThreadRecord | None) -> None:
        """Follow ``record`` (the header's chat); its numbers come a moment later."""
        changed = record is None or self._record is None or record.id != self._record.id
        self._record = record
        if changed:
            self.totals, self.fill = ChatTotals(), None
            self._show()
        if record is not None:  # a chat just opened paints its messages first
            self._timer.start(OPEN_DELAY_MS if changed else REFRESH_MS)

    # -- changes -----------------------------------------------------------------------

    def on_execution_changed(self, change: Change) -> None:
        record = change.record
        if self._mine(change) and isinstance(record, ExecutionRecord) and record.status in _ENDED:
            self._timer.start(REFRESH_MS)

    def on_message_changed(self, change: Change) -> None:
        if not self._mine(change):
            return
        record = change.record
        if change.kind is ChangeKind.UPDATED and isinstance(record, MessageRecord):
            if record.status in ACTIVE_MESSAGE_STATUSES:
                return  # a reply being written: its end is a run's end
            if "content" not in change.fields:
                return
        self._timer.start(REFRESH_MS)

    def on_setting_changed(self, key: str) -> None:
        if key in MODEL_KEYS:  # another default model: another window, perhaps local
            self.pricing.forget_settings()
            if self._record is not None:
                self._timer.start(REFRESH_MS)

    def _mine(self, change: Change) -> bool:
        return self._record is not None and change.thread_id == self._record.id

    # -- reading -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the chat's totals and history size (in the background) and show them."""
        self._timer.stop()
        if self._record is None or not self.isVisible():
            return  # a closed window reads nothing (its tasks are closed, its store may be)
        services, user_id, thread_id = self._services, self._user_id, self._record.id

        def read() -> _Read:
            totals = services.usage.totals(user_id, thread_id)
            history = services.usage.history_size(user_id, thread_id)
            budget = context_budget_tokens(services, user_id, thread_id) * CHARS_PER_TOKEN
            return _Read(thread_id, totals, history, budget)

        self._reader.call(read)

    def hideEvent(self, event: QHideEvent) -> None:
        """Hidden (the window closing, no chat shown): no read is due any more."""
        self._timer.stop()
        self._reader.cancel()
        super().hideEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        if self._record is not None and not self._timer.isActive():
            self._timer.start(REFRESH_MS)  # what changed while hidden
        super().showEvent(event)

    def is_reading(self) -> bool:
        """A read is due or out (tests wait for its end)."""
        return self._timer.isActive() or self._reader.is_running()

    def on_not_read(self, error: BaseException) -> None:
        if not isinstance(error, ServiceError):  # busy or gone: the next change reads again
            log.error("chat usage not read", exc_info=error)
        else:
            log.info("chat usage not read: %s", error)

    def on_read(self, read: _Read) -> None:
        record = self._record
        if record is None or read.thread_id != record.id:
            return  # another chat is shown now
        self.totals = self.pricing.totals(read.totals)
        self.fill = self.pricing.context_fill(record, read.history, read.budget_chars)
        problem = self.pricing.table().problem
        if problem and problem != self._told:
            self.problem.emit(problem)
        self._told = problem
        self._show()

    def _show(self) -> None:
        totals, fill = self.totals, self.fill
        self.label.set_forms(*self.total_forms())
        # empty while unknown, never hidden: the header's layout does not move
        self.bar.show_fill(fill.fraction if fill else 0.0, fill.state if fill else Fill.OK)
        tip = [self._totals_tip(totals)]
        if fill is not None:
            tip.append(self._fill_tip(fill))
        self.setToolTip("\n\n".join(tip))
        self.setAccessibleDescription(" ".join(tip))

    def total_forms(self) -> tuple[str, ...]:
        """``12.3k tokens · $0.04``, then shorter: ``12.3k · $0.04``, ``$0.04`` (no
        cost when none is known: ``12.3k tokens``, ``12.3k``)."""
        totals = self.totals
        tokens = tokens_text(totals.tokens)
        if totals.cost > 0 or (totals.tokens and not totals.unpriced):
            cost = cost_text(totals.cost)
            return (f"{tokens} tokens · {cost}", f"{tokens} · {cost}", cost)
        return (f"{tokens} tokens", tokens)

    @staticmethod
    def _totals_tip(totals: ChatTotals) -> str:
        if not totals.tokens:
            return "No tokens used in this chat yet."
        line = f"This chat: {totals.tokens_in:,} tokens in, {totals.tokens_out:,} out"
        if totals.unpriced == totals.tokens:
            return f"{line}; the model's price is unknown (see prices.json)."
        line += f", {cost_text(totals.cost)}"
        if totals.unpriced:
            line += f" (and {totals.unpriced:,} tokens of models of unknown price)"
        return line + "."

    @staticmethod
    def _fill_tip(fill: ContextFill) -> str:
        words = (
            f"Next reply's history: about {fill.tokens:,} of {fill.limit_tokens:,} tokens "
            f"({fill.fraction:.0%}; {CHARS_PER_TOKEN} characters a token)"
        )
        if fill.window_tokens:
            words += f", in a {fill.window_tokens:,}-token context window"
        if fill.state is Fill.TRIMMED:
            return words + ". Older messages are left out."
        if fill.state is Fill.WARNING:
            return words + f". Past {WARN_AT:.0%}: older messages will soon be left out."
        return words + "."
