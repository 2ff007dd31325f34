"""``/`` at the start of a line in the composer: a filterable list of saved prompts.

Why a floating panel watching the field rather than a popup window: the keyboard stays
in the composer (typing after ``/`` goes on filtering), so the panel never takes the
focus; an event filter on the field lends it Up/Down, Enter, Tab and Escape while it
shows. A ``/`` opens it only as the first visible character of a line (``/sum``,
``  /sum``): in a sentence ("and/or", a path) it is text. Escape closes it and leaves
what was typed; it stays closed for that ``/`` until the ``/`` goes away.

Choosing a prompt replaces ``/query`` with its text; a prompt with ``{{variables}}``
asks for them first (``prompt_variables.py``). Nothing is sent. The prompts are read
when the list opens (a short query; the library is small), never while typing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services.errors import ServiceError
from chatdesk.services.prompt_text import variables
from chatdesk.services.prompts import PromptRecord, PromptService
from chatdesk.services.threads import sanitise_title
from chatdesk.ui.chat.prompt_variables import PromptVariablesDialog
from chatdesk.ui.scaled_font import keep_scaled

MAX_ROWS = 7
MAX_SHOWN = 100
"""The best matches listed (a library of 2,000 narrows as one types)."""
MAX_QUERY_CHARS = 60
PREVIEW_CHARS = 300
_TRIGGER = re.compile(r"[ \t]*/([^\n/]*)")
"""The line up to the cursor: blanks, a ``/`` and the query (no second ``/``: a path)."""
STYLE = """
#promptPicker { border: 1px solid palette(mid); border-radius: 10px; background: palette(base); }
#promptPickerList { background: transparent; border: none; outline: 0; }
#promptPickerList::item { padding: 5px 8px; border-radius: 6px; }
#promptPickerList::item:selected {
    background: palette(highlight); color: palette(highlighted-text);
}
#promptPickerPreview { padding: 2px 8px 0 8px; }
#promptPickerHint { padding: 0 8px; }
"""
"""Its own small sheet, in the palette's colours, so it follows the theme."""
_KEYS = {
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
    Qt.Key.Key_Return,
    Qt.Key.Key_Enter,
    Qt.Key.Key_Tab,
    Qt.Key.Key_Escape,
}


@dataclass(frozen=True)
class Trigger:
    """Where ``/query`` starts in the document (the ``/``) and what follows it."""

    slash: int
    query: str


def find_trigger(line_before_cursor: str) -> Trigger | None:
    """The ``/query`` a line ends with (up to the cursor), when its ``/`` starts the line
    after blanks; ``slash`` counts from the line's start (blanks only, so Qt's UTF-16
    positions and Python's agree)."""
    match = _TRIGGER.fullmatch(line_before_cursor)
    if match is None or len(match.group(1)) > MAX_QUERY_CHARS:
        return None
    return Trigger(match.start(1) - 1, match.group(1))


def ranked(prompts: list[PromptRecord], query: str) -> list[PromptRecord]:
    """The prompts matching ``query`` (case ignored): names starting with it, then
    names containing it, then texts containing it; by name within each."""
    needle = " ".join(query.split()).casefold()
    if not needle:
        return list(prompts)
    starts, inside, in_text = [], [], []
    for prompt in prompts:
        name = prompt.name.casefold()
        if name.startswith(needle):
            starts.append(prompt)
        elif needle in name:
            inside.append(prompt)
        elif needle in prompt.text.casefold():
            in_text.append(prompt)
    return starts + inside + in_text


def _preview(text: str) -> str:
    """The text on one line of visible characters (no bidi overrides), cut short."""
    lines = [shown for line in text.splitlines() if (shown := sanitise_title(line))]
    shown = " ⏎ ".join(lines)
    return shown if len(shown) <= PREVIEW_CHARS else shown[: PREVIEW_CHARS - 1] + "…"


class PromptPicker(QFrame):
    """The ``/`` list of one composer field, floating above it inside ``host``.

    Signals:
        inserted(str): a prompt's (filled) text was put in the composer.
    """

    inserted = Signal(str)

    def __init__(
        self,
        prompts: PromptService,
        user_id: int,
        edit: QPlainTextEdit,
        host: QWidget,
        anchor: QWidget | None = None,
    ) -> None:
        super().__init__(host)
        self.setObjectName("promptPicker")
        self.setAccessibleName("Saved prompts")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self._prompts = prompts
        self._user_id = user_id
        self._edit = edit
        self._anchor = anchor or edit
        self._host = host
        self._loaded: list[PromptRecord] | None = None
        self._shown: list[PromptRecord] = []
        self._trigger: Trigger | None = None
        self._dismissed: int | None = None  # the ``/`` Escape closed the list for
        self._asking: PromptVariablesDialog | None = None
        self._inserting = False
        self._error: str | None = None

        self.list = QListWidget(self)
        self.list.setObjectName("promptPickerList")
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.preview = QLabel(self)
        self.preview.setObjectName("promptPickerPreview")
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setWordWrap(True)
        self.preview.setEnabled(False)  # drawn muted
        self.hint = QLabel("↑↓ choose · Enter or Tab insert · Esc close", self)
        self.hint.setObjectName("promptPickerHint")
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setEnabled(False)
        keep_scaled(self.hint, -1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 8)
        layout.setSpacing(6)
        layout.addWidget(self.list)
        layout.addWidget(self.preview)
        layout.addWidget(self.hint)
        self.hide()

        edit.installEventFilter(self)
        host.installEventFilter(self)
        edit.textChanged.connect(self.on_edit_changed)
        edit.cursorPositionChanged.connect(self.on_edit_changed)
        self.list.currentRowChanged.connect(self.on_current_changed)
        self.list.itemClicked.connect(self.on_item_clicked)

    # -- what the person sees ----------------------------------------------------------

    def is_open(self) -> bool:
        return self.isVisible()

    def names(self) -> list[str]:
        """The names listed, in order (for tests and scripts)."""
        return [prompt.name for prompt in self._shown]

    def current_name(self) -> str | None:
        row = self.list.currentRow()
        return self._shown[row].name if 0 <= row < len(self._shown) else None

    def on_edit_changed(self) -> None:
        """The text or the cursor moved: open, filter or close the list."""
        if self._asking is not None or self._inserting:
            return
        trigger = None
        cursor = self._edit.textCursor()
        focused = self._edit.window().focusWidget() is self._edit
        typing = focused and not self._edit.isReadOnly()
        if typing and not cursor.hasSelection():
            trigger = _trigger_at(cursor)
        if trigger is None or trigger.slash != self._dismissed:
            self._dismissed = None
        if trigger is None or self._dismissed is not None:
            self.close_list()
            return
        if self._trigger is None:
            self._loaded = self._load()
        self._trigger = trigger
        self._show_matches(trigger.query)

    def _load(self) -> list[PromptRecord]:
        self._error = None
        try:
            return self._prompts.list(self._user_id)
        except ServiceError as error:  # a busy or broken store: said, the text stays text
            self._error = f"The saved prompts cannot be read now: {error}"
            return []

    def _show_matches(self, query: str) -> None:
        loaded = self._loaded or []
        self._shown = ranked(loaded, query)[:MAX_SHOWN]
        if not self._shown and (loaded or query):
            self._hide_only()  # nothing to offer: the person is writing text
            return
        self.list.clear()
        for prompt in self._shown:
            item = QListWidgetItem(prompt.name, self.list)
            item.setToolTip(_preview(prompt.text))
        if self._shown:
            self.list.setCurrentRow(0)
            self.list.setVisible(True)
            self.hint.setText("↑↓ choose · Enter or Tab insert · Esc close")
        else:
            self.list.setVisible(False)
            self.preview.setText("")
            self.hint.setText(self._error or "No saved prompts yet: add some with Chat › Prompts…")
        self.preview.setVisible(bool(self._shown))
        self._place()
        self.show()
        self.raise_()

    def _hide_only(self) -> None:
        self.hide()

    def close_list(self) -> None:
        """Close the list (the text is left as it is)."""
        self._trigger = None
        self._loaded = None
        self._shown = []
        self.hide()

    def _place(self) -> None:
        """Above the composer, as wide as it, as tall as its rows (at most MAX_ROWS)."""
        rows = min(len(self._shown), MAX_ROWS)
        row_height = self.list.sizeHintForRow(0) if rows else 0
        self.list.setFixedHeight(rows * row_height + 2 * self.list.frameWidth() + 2)
        width = self._anchor.width()
        self.setFixedWidth(width)
        layout = self.layout()
        if layout is not None:
            layout.activate()
        height = self.sizeHint().height()
        top_left = self._anchor.mapTo(self._host, self._anchor.rect().topLeft())
        self.setGeometry(top_left.x(), max(0, top_left.y() - height - 4), width, height)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self._anchor.width(), hint.height())

    def on_current_changed(self, row: int) -> None:
        if 0 <= row < len(self._shown):
            self.preview.setText(_preview(self._shown[row].text))
            if self.isVisible():
                self._place()

    def on_item_clicked(self, item: QListWidgetItem) -> None:
        self.choose(self.list.row(item))
        self._edit.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- keys lent by the field --------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host:
            if event.type() == QEvent.Type.Resize and self.isVisible():
                self._place()
            return False
        if watched is not self._edit or not self.isVisible():
            return False
        if event.type() == QEvent.Type.FocusOut:
            if not self.underMouse():
                self.close_list()
            return False
        if not isinstance(event, QKeyEvent) or event.key() not in _KEYS:
            return False
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if not plain or (not self._shown and event.key() != Qt.Key.Key_Escape):
            return False  # only a hint shows: Enter sends, Tab moves on, as ever
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # ours while the list shows (Esc must not stop a reply)
            return True
        if event.type() != QEvent.Type.KeyPress:
            return False
        self._on_key(Qt.Key(event.key()))
        return True

    def _on_key(self, key: Qt.Key) -> None:
        count = len(self._shown)
        row = self.list.currentRow()
        if key == Qt.Key.Key_Escape:
            self._dismissed = self._trigger.slash if self._trigger else None
            self.close_list()
        elif not count:
            return
        elif key == Qt.Key.Key_Up:
            self.list.setCurrentRow((row - 1) % count)
        elif key == Qt.Key.Key_Down:
            self.list.setCurrentRow((row + 1) % count)
        elif key == Qt.Key.Key_PageUp:
            self.list.setCurrentRow(max(0, row - MAX_ROWS))
        elif key == Qt.Key.Key_PageDown:
            self.list.setCurrentRow(min(count - 1, row + MAX_ROWS))
        else:
            self.choose(row)

    # -- inserting ---------------------------------------------------------------------

    def choose(self, row: int) -> None:
        """Insert the prompt at ``row`` in place of ``/query`` (asking for its variables)."""
        if self._trigger is None or not 0 <= row < len(self._shown):
            return
        prompt = self._shown[row]
        start, end = self._trigger.slash, self._edit.textCursor().position()
        self._dismissed = start
        self.close_list()
        found = variables(prompt.text)
        if not found:
            self._replace(start, end, prompt.text)
            return
        dialog = PromptVariablesDialog(prompt.name, prompt.text, found, self._edit.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self._asking = dialog
        dialog.accepted.connect(lambda: self._replace(start, end, dialog.filled()))
        dialog.finished.connect(self.on_asked)
        dialog.open()

    def on_asked(self) -> None:
        self._asking = None
        self._edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def _replace(self, start: int, end: int, text: str) -> None:
        """``text`` in place of the document's [start, end) (the ``/query``), as one undo
        step; at the cursor instead if the draft changed meanwhile (it is never cut)."""
        length = self._edit.document().characterCount() - 1
        cursor = self._edit.textCursor()
        cursor.setPosition(min(start, length))
        cursor.setPosition(min(end, length), QTextCursor.MoveMode.KeepAnchor)
        if not cursor.selectedText().startswith("/"):
            cursor = self._edit.textCursor()
        self._dismissed = None
        self._inserting = True
        try:
            cursor.insertText(text)
            self._edit.setTextCursor(cursor)
        finally:
            self._inserting = False
        self._edit.ensureCursorVisible()
        self.inserted.emit(text)


def _trigger_at(cursor: QTextCursor) -> Trigger | None:
    """The trigger the cursor ends, its ``slash`` as a document position."""
    block = cursor.block()
    units = cursor.positionInBlock()  # UTF-16 code units, as Qt counts
    before = block.text().encode("utf-16-le")[: 2 * units].decode("utf-16-le", "replace")
    found = find_trigger(before)
    return None if found is None else Trigger(block.position() + found.slash, found.query)
