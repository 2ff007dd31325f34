"""The small action bar a bubble shows on hover or keyboard focus, and code blocks' Copy.

Why: the bubble's commands (Copy text, Regenerate or Retry, Edit) were only
in its right-click menu and in shortcuts nobody finds. Like the chat apps people know,
a hovered bubble (or the list's current row while the list has focus) shows a rounded
bar of glyph buttons on its bottom edge: Copy, Regenerate/Retry, More for a reply;
Copy, Edit, More for your own message. Every code block has a Copy button in its
label row that says "Copied" for a moment.

Everything is painted (the delegate calls ``paint_bar`` and ``paint_code_buttons``);
there is no widget per row, and a row nobody hovers or focuses pays one comparison.
Buttons run the very handlers the bubble menu runs (``MessageListView.run_command``).

Keys on the list: Right moves into the current bubble's bar, Left/Right between its
buttons, Enter or Space presses one, Escape (or Up/Down) leaves. Each button's tooltip
names its shortcut, if it has one, and the list's accessible description names the
focused button for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QAccessible,
    QAccessibleEvent,
    QColor,
    QFocusEvent,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPen,
    QTextDocument,
)
from PySide6.QtWidgets import QAbstractItemView, QToolTip

from chatdesk.services.records import MessageRecord
from chatdesk.ui import glyphs
from chatdesk.ui.chat.bubble_parts import ROW_SPACING, status_font
from chatdesk.ui.chat.code_copy import code_button_rect, paint_code_button
from chatdesk.ui.chat.code_scroll import code_blocks_of
from chatdesk.ui.chat.message_delegate import MessageDelegate
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.list_model import Index
from chatdesk.ui.theme import Colors
from chatdesk.vocabulary import Role

if TYPE_CHECKING:
    from chatdesk.ui.chat.message_model import MessageListModel


KEYBOARD_FOCUS = frozenset(
    {
        Qt.FocusReason.TabFocusReason,
        Qt.FocusReason.BacktabFocusReason,
        Qt.FocusReason.ShortcutFocusReason,
    }
)
"""Focus that arrives by keys (a click on a row makes that row current itself)."""
COPIED_MS = 1500
"""How long a code block's button says "Copied"."""
BAR_INSET = 12.0
"""How far the bar stays from the bubble's side."""
BAR_GAP = 8.0
"""Room the bar leaves beside the status text (time, error, Retry)."""


class BarCommand(StrEnum):
    """A button of the bar; its value is the name screen readers and tooltips use."""

    COPY = "Copy text"
    EDIT = "Edit"
    REGENERATE = "Regenerate reply"
    RETRY = "Retry"
    MORE = "More actions"


@dataclass(frozen=True)
class BarButton:
    command: BarCommand
    rect: QRectF  # viewport coordinates


@dataclass(frozen=True)
class _CodeTarget:
    message_id: int
    block: int  # the code block's number in its document


@dataclass(frozen=True)
class _BarTarget:
    message_id: int
    command: BarCommand


_Target = _CodeTarget | _BarTarget


def rerun_of(model: MessageListModel, record: MessageRecord) -> tuple[BarCommand, int] | None:
    """Retry (a failed or stopped run) or Regenerate (a finished reply) for a bubble, with
    the user message to send again; the bar and the bubble menu both ask this."""
    row = model.row_of(record.id)
    target = model.index(row).data(MessageRoles.RetryTarget) if row is not None else None
    if isinstance(target, int):
        return BarCommand.RETRY, target
    regenerate = model.regenerate_target(record)
    if record.role is Role.ASSISTANT and regenerate is not None:
        return BarCommand.REGENERATE, regenerate
    return None


def commands_for(model: MessageListModel, record: MessageRecord) -> list[BarCommand]:
    """The bar's buttons for a bubble, in order."""
    commands = [BarCommand.COPY]
    if record.role is Role.USER:
        commands.append(BarCommand.EDIT)
    rerun = rerun_of(model, record)
    if rerun is not None:
        commands.append(rerun[0])
    commands.append(BarCommand.MORE)
    return commands


def button_size(font: QFont) -> float:
    """A bar button's side: grows with the text size."""
    return round(QFontMetricsF(status_font(font)).height() + 8.0)


class BarCommands(Protocol):
    """What the list does for its bar: the handlers its bubble menu runs too, and
    making a row current without scrolling."""

    def run_command(self, message_id: int, command: BarCommand, at: QPoint) -> None: ...

    def copy_code_block(self, message_id: int, number: int) -> bool: ...

    def make_current(self, index: QModelIndex) -> None: ...


class ActionBar(QObject):
    """Hover, keyboard focus, hit-testing and painting of the bars and code buttons."""

    def __init__(
        self,
        view: QAbstractItemView,
        delegate: MessageDelegate,
        model: MessageListModel,
        commands: BarCommands,
    ) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._delegate = delegate
        self._commands = commands
        self.hovered_id: int | None = None
        self._hover: _Target | None = None
        self._pressed: _Target | None = None
        self.focused: int | None = None  # the keyboard's button in the current row's bar
        self.copied: _CodeTarget | None = None
        self.shortcuts: dict[BarCommand, str] = {BarCommand.COPY: _native("Ctrl+C")}
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(COPIED_MS)
        self._copied_timer.timeout.connect(self.on_copied_over)
        self._delegate.action_bar = self
        # Installed after the text selection's filter, so this one sees events first.
        view.installEventFilter(self)
        view.viewport().installEventFilter(self)
        model.modelReset.connect(self.on_model_reset)
        view.verticalScrollBar().valueChanged.connect(self.on_scrolled)

    # -- what shows where -------------------------------------------------------------

    def set_shortcut(self, command: BarCommand, keys: QKeySequence) -> None:
        """Name ``keys`` in ``command``'s tooltip (the window's actions say which)."""
        self.shortcuts[command] = keys.toString(QKeySequence.SequenceFormat.NativeText)

    def tooltip(self, command: BarCommand) -> str:
        keys = self.shortcuts.get(command)
        return f"{command.value} ({keys})" if keys else command.value

    def current_id(self) -> int | None:
        index = self._view.currentIndex()
        value = index.data(MessageRoles.MessageId) if index.isValid() else None
        return int(value) if value is not None else None

    def shows_bar(self, message_id: int) -> bool:
        """Whether ``message_id``'s bubble shows its bar now: hovered, or the focused
        list's current row (unless the pointer shows another's: one bar at a time,
        except while the keyboard is in the current row's bar)."""
        if message_id == self.hovered_id:
            return True
        if self.hovered_id is not None and self.focused is None:
            return False
        return self._view.hasFocus() and message_id == self.current_id()

    def buttons(self, index: Index, row_rect: QRect, font: QFont) -> list[BarButton]:
        """The bar's buttons for the bubble of ``index`` in ``row_rect`` (viewport
        coordinates).

        The bar sits on the bubble's bottom edge, inside its row, on the side away
        from the status text (right for a reply, left for your own message); on a
        narrow bubble it moves out past the bubble's side rather than cover that text.
        """
        record: MessageRecord = index.data(MessageRoles.Record)
        bubble = self._delegate.geometry(row_rect, index, font).bubble
        ink_left, ink_right = self._delegate.status_span(row_rect, index, font)
        commands = commands_for(self._model, record)
        side = button_size(font)
        width = side * len(commands) + 4.0
        bottom = bubble.bottom() + ROW_SPACING - 1.0
        top = bottom - side - 4.0
        if record.role is Role.USER:
            left = min(bubble.left() + BAR_INSET, ink_left - BAR_GAP - width)
            left = max(left, 2.0)
        else:
            left = max(bubble.right() - BAR_INSET - width, ink_right + BAR_GAP)
            left = min(left, max(row_rect.right() - width - 2.0, bubble.left() + BAR_INSET))
        return [
            BarButton(command, QRectF(left + 2.0 + n * side, top + 2.0, side, side))
            for n, command in enumerate(commands)
        ]

    def _bar_of(self, message_id: int) -> list[BarButton]:
        row = self._model.row_of(message_id)
        if row is None:
            return []
        index = self._model.index(row)
        return self.buttons(index, self._view.visualRect(index), self._view.font())

    def target_at(self, pos: QPointF) -> _Target | None:
        """The bar button or code Copy button under ``pos`` (viewport coordinates)."""
        index = self._view.indexAt(pos.toPoint())
        record: MessageRecord | None = index.data(MessageRoles.Record) if index.isValid() else None
        if record is None:
            return None
        view = self._view
        geo = self._delegate.geometry(view.visualRect(index), index, view.font())
        if self.shows_bar(record.id):
            for button in self.buttons(index, view.visualRect(index), view.font()):
                if button.rect.contains(pos):
                    return _BarTarget(record.id, button.command)
        doc = self._delegate.cached_document(record.id)
        if record.role is Role.ASSISTANT and doc is not None and geo.text.contains(pos):
            local = pos - geo.text.topLeft()
            for block in code_blocks_of(doc):
                if code_button_rect(block, view.font()).contains(local):
                    return _CodeTarget(record.id, block.number)
        return None

    # -- painting (called by the delegate) --------------------------------------------

    def paint_bar(
        self, painter: QPainter, index: Index, row_rect: QRect, font: QFont, c: Colors
    ) -> None:
        record: MessageRecord = index.data(MessageRoles.Record)
        buttons = self.buttons(index, row_rect, font)
        if not buttons:
            return
        painter.save()
        painter.setOpacity(1.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        frame = buttons[0].rect.united(buttons[-1].rect).adjusted(-2, -2, 2, 2)
        painter.setPen(QPen(QColor(c.border), 1.0))
        painter.setBrush(QColor(c.chat))
        radius = frame.height() / 2
        painter.drawRoundedRect(frame.adjusted(0.5, 0.5, -0.5, -0.5), radius, radius)
        keyboard = self.focused if record.id == self.current_id() else None
        for n, button in enumerate(buttons):
            hovered = self._hover == _BarTarget(record.id, button.command)
            spot = button.rect.adjusted(1, 1, -1, -1)
            if hovered:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(c.hover))
                painter.drawEllipse(spot)
            if keyboard == n and self._view.hasFocus():
                painter.setPen(QPen(QColor(c.accent), 2.0))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(spot.adjusted(1, 1, -1, -1))
            color = QColor(c.text if hovered or keyboard == n else c.muted)
            draw_glyph(painter, button.command, button.rect, color)
        painter.restore()

    def paint_code_buttons(
        self, painter: QPainter, message_id: int, doc: QTextDocument, font: QFont, c: Colors
    ) -> None:
        """Copy (or Copied, or hovered) at the top right of each code block; ``painter``
        is at the document's origin."""
        for block in code_blocks_of(doc):
            target = _CodeTarget(message_id, block.number)
            state = "done" if target == self.copied else "hover" if self._hover == target else ""
            paint_code_button(painter, block, font, c, state)

    # -- doing -----------------------------------------------------------------------

    def press(self, target: _Target, at: QPoint) -> None:
        """Do what a button says: the bar's commands through the bubble menu's handlers."""
        if isinstance(target, _CodeTarget):
            self.copy_code(target.message_id, target.block)
            return
        self._commands.run_command(target.message_id, target.command, at)

    def copy_code(self, message_id: int, block: int) -> bool:
        """Copy one code block's code, exactly as the reply wrote it; say "Copied"."""
        if not self._commands.copy_code_block(message_id, block):
            return False
        self._repaint(self.copied)
        self.copied = _CodeTarget(message_id, block)
        self._copied_timer.start()
        self._repaint(self.copied)
        return True

    def on_copied_over(self) -> None:
        copied, self.copied = self.copied, None
        self._repaint(copied)

    # -- events ----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self._view:
            if isinstance(event, QKeyEvent) and kind in (
                QEvent.Type.KeyPress,
                QEvent.Type.ShortcutOverride,
            ):
                return self._on_key(event, kind == QEvent.Type.ShortcutOverride)
            if isinstance(event, QFocusEvent) and event.reason() in KEYBOARD_FOCUS:
                self._start_at_newest()
            if kind in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
                if kind == QEvent.Type.FocusOut:
                    self.set_focused(None)
                self._repaint_row(self.current_id())
            return False
        if isinstance(event, QMouseEvent):
            return self._on_mouse(event)
        if kind == QEvent.Type.Leave:
            self._set_hover(None, None)
        elif kind == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            return self._on_tooltip(event)
        return False

    def _on_mouse(self, event: QMouseEvent) -> bool:
        kind = event.type()
        pos = event.position()
        left = Qt.MouseButton.LeftButton
        if kind == QEvent.Type.MouseMove:
            if event.buttons() != Qt.MouseButton.NoButton and self._pressed is None:
                self._set_hover(None, None)  # dragging (selecting text): no bar in the way
                return False
            self._hover_at(pos)
            if self._hover is not None:
                self._view.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
                return True  # not the text's I-beam
            return False
        target = self.target_at(pos)
        if kind == QEvent.Type.MouseButtonPress and event.button() == left:
            self._pressed = target
            return target is not None
        if kind == QEvent.Type.MouseButtonDblClick and target is not None:
            return True  # a quick second click is another press, not a word selection
        if kind == QEvent.Type.MouseButtonRelease and event.button() == left:
            pressed, self._pressed = self._pressed, None
            if pressed is not None:
                if pressed == target:
                    self.press(target, pos.toPoint())
                return True
        return False

    def _hover_at(self, pos: QPointF) -> None:
        index = self._view.indexAt(pos.toPoint())
        value = index.data(MessageRoles.MessageId) if index.isValid() else None
        message_id = int(value) if value is not None else None
        before = self.hovered_id
        self.hovered_id = message_id  # the bar's buttons are hit only once it shows
        target = self.target_at(pos)
        self.hovered_id = before
        self._set_hover(message_id, target)

    def _set_hover(self, message_id: int | None, target: _Target | None) -> None:
        if message_id == self.hovered_id and target == self._hover:
            return
        old_id, old_target = self.hovered_id, self._hover
        self.hovered_id, self._hover = message_id, target
        self._repaint_row(old_id)
        if isinstance(old_target, _CodeTarget):
            self._repaint_row(old_target.message_id)
        self._repaint_row(message_id)

    def on_scrolled(self, _value: int) -> None:
        """Rows moved under a still pointer: hover what is under it now."""
        viewport = self._view.viewport()
        if self.hovered_id is not None and viewport.underMouse():
            self._hover_at(QPointF(viewport.mapFromGlobal(viewport.cursor().pos())))

    def _on_tooltip(self, event: QHelpEvent) -> bool:
        target = self.target_at(QPointF(event.pos()))
        if target is None:
            return False
        text = (
            self.tooltip(target.command)
            if isinstance(target, _BarTarget)
            else "Copy this code block"
        )
        QToolTip.showText(event.globalPos(), text, self._view.viewport())
        return True

    def _on_key(self, event: QKeyEvent, override: bool) -> bool:
        """Right into the bar and along it, Left back, Enter/Space press, Escape leaves."""
        message_id = self.current_id()
        if message_id is None or event.modifiers() not in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.KeypadModifier,
        ):
            return False
        key = event.key()
        count = len(self._bar_of(message_id))
        handled = True
        if key == Qt.Key.Key_Right:
            step = 0 if self.focused is None else min(self.focused + 1, count - 1)
            if not override:
                self.set_focused(step)
        elif key == Qt.Key.Key_Left and self.focused is not None:
            if not override:
                self.set_focused(self.focused - 1 if self.focused > 0 else None)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            handled = self.focused is not None
            if handled and not override:
                self._press_focused(message_id)
        elif key == Qt.Key.Key_Escape and self.focused is not None:
            if not override:
                self.set_focused(None)
        else:
            handled = False
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Home, Qt.Key.Key_End):
                self.set_focused(None)
        if handled:
            event.accept()
        return handled

    def _start_at_newest(self) -> None:
        """Tabbing into the list starts at the newest message (Qt's default is the
        oldest loaded one, far up a long chat), so its bar is one Right away."""
        rows = self._model.rowCount()
        view = self._view
        if rows and not view.currentIndex().isValid():
            self._commands.make_current(self._model.index(rows - 1))

    def _press_focused(self, message_id: int) -> None:
        buttons = self._bar_of(message_id)
        if self.focused is None or not 0 <= self.focused < len(buttons):
            return
        button = buttons[self.focused]
        self.press(_BarTarget(message_id, button.command), button.rect.center().toPoint())

    def set_focused(self, number: int | None) -> None:
        """Move the keyboard into the current row's bar (``number``), or out (None)."""
        if number == self.focused:
            return
        self.focused = number
        message_id = self.current_id()
        buttons = self._bar_of(message_id) if message_id is not None else []
        view = self._view
        if number is not None and 0 <= number < len(buttons):
            name = buttons[number].command
            view.setAccessibleDescription(f"{self.tooltip(name)} button; Enter presses it")
        else:
            view.setAccessibleDescription("Right arrow: this message's actions")
        QAccessible.updateAccessibility(
            QAccessibleEvent(view, QAccessible.Event.DescriptionChanged)
        )
        self._repaint_row(message_id)

    def on_current_changed(self) -> None:
        """Another row is current: the keyboard starts outside its bar."""
        self.focused = None

    def on_model_reset(self) -> None:
        self.hovered_id = None
        self._hover = None
        self._pressed = None
        self.focused = None
        self.copied = None
        self._copied_timer.stop()

    def _repaint(self, target: _CodeTarget | None) -> None:
        if target is not None:
            self._repaint_row(target.message_id)

    def _repaint_row(self, message_id: int | None) -> None:
        row = self._model.row_of(message_id) if message_id is not None else None
        if row is not None:
            self._view.viewport().update(self._view.visualRect(self._model.index(row)))


def _native(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)


def draw_glyph(painter: QPainter, command: BarCommand, rect: QRectF, color: QColor) -> None:
    """The icon of ``command`` inside a button's ``rect``."""
    side = rect.width() * 0.6
    icon = QRectF(0, 0, side, side)
    icon.moveCenter(rect.center())
    if command is BarCommand.COPY:
        glyphs.draw_copy(painter, icon, color)
    elif command is BarCommand.EDIT:
        glyphs.draw_pencil(painter, icon, color)
    elif command in (BarCommand.REGENERATE, BarCommand.RETRY):
        glyphs.draw_again(painter, icon, color)
    else:
        glyphs.draw_dots(painter, icon, color)
