"""The files waiting above the composer to go with the next message, as chips.

Each chip is one file: its name (elided), its size, a small thumbnail for an image and
an × that removes it. A chip is ``adding`` while its file is copied in (off the GUI
thread, ``attaching.py``), then ``ready``, or ``failed`` (red, the reason as its
tooltip). A document (PDF, DOCX, text) is ``reading`` between the two while its text
is extracted, with its progress; it can be sent meanwhile. A document whose text
cannot be read (scanned, damaged) is still ``ready``, but the chip says in amber that
the model will not see it, the reason as its tooltip (``reason``). The model names
its roles ``fileName``, ``mimeType``, ``sizeBytes``, ``state`` (and ``reason``,
``progress``) so tests address them by name; the view is ``attachmentChips`` and
shows only while it holds a chip.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum, auto
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QObject,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.list_model import Index, ListModel, Roles

CHIP_HEIGHT = 40
CHIP_WIDTH = 190
THUMB = 32
"""The side of a chip's thumbnail, in pixels (images are decoded at this size)."""
_CLOSE = 16
WARNING_COLOR = "#b7791f"
"""Amber: the file is attached, but something about it needs the person's eye."""
_PAD = 4


class ChipState(StrEnum):
    """Where a chip's file is."""

    ADDING = "adding"
    READING = "reading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Chip:
    """One file above the composer (``key`` is the chip's own, not the attachment's id)."""

    key: int
    file_name: str
    size_bytes: int = 0
    mime_type: str = ""
    state: ChipState = ChipState.ADDING
    reason: str = ""
    record: AttachmentRecord | None = None
    thumbnail: QImage | None = None
    progress: float = 0.0  # while reading: the share read, 0 to 1


class ChipRoles(Roles):
    """Data roles of ``AttachmentChipModel``."""

    FileName = auto()
    MimeType = auto()
    SizeBytes = auto()
    State = auto()
    Reason = auto()
    Thumbnail = auto()
    Key = auto()
    Progress = auto()


def size_label(size: int) -> str:
    """A file's size as people read it: "812 KB", "3.4 MB"."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size} bytes"


class AttachmentChipModel(ListModel[Chip]):
    """The chips, in the order the files were given."""

    roles = ChipRoles

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next_key = 1

    def row_id(self, row: Chip) -> int:
        return row.key

    def row_data(self, chip: Chip, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, ChipRoles.FileName):
            return chip.file_name
        if role == Qt.ItemDataRole.ToolTipRole:
            if chip.reason:
                return chip.reason
            return f"{chip.file_name} ({size_label(chip.size_bytes)})"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"Attachment {chip.file_name}, {chip.state.value}"
        if role == ChipRoles.MimeType:
            return chip.mime_type
        if role == ChipRoles.SizeBytes:
            return chip.size_bytes
        if role == ChipRoles.State:
            return chip.state.value
        if role == ChipRoles.Reason:
            return chip.reason
        if role == ChipRoles.Thumbnail:
            return chip.thumbnail
        if role == ChipRoles.Key:
            return chip.key
        if role == ChipRoles.Progress:
            return chip.progress
        return None

    # -- changing --------------------------------------------------------------------

    def add(self, file_name: str, size_bytes: int = 0) -> int:
        """A new ``adding`` chip at the end; its key."""
        key = self._next_key
        self._next_key += 1
        self._insert_rows(len(self._rows), [Chip(key, file_name, size_bytes)])
        return key

    def set_ready(self, key: int, record: AttachmentRecord, thumbnail: QImage | None) -> None:
        self._update(
            key,
            state=ChipState.READY,
            record=record,
            file_name=record.file_name,
            mime_type=record.mime_type,
            size_bytes=record.size_bytes,
            thumbnail=thumbnail,
        )

    def set_reading(self, key: int, progress: float) -> None:
        """The chip's document is being read: ``progress`` of it so far (0 to 1)."""
        self._update(key, state=ChipState.READING, progress=progress)

    def set_read(self, key: int, warning: str = "") -> None:
        """The document was read; ``warning``: why the model will not see it."""
        self._update(key, state=ChipState.READY, progress=1.0, reason=warning)

    def set_failed(self, key: int, reason: str) -> None:
        self._update(key, state=ChipState.FAILED, reason=reason)

    def remove(self, key: int) -> bool:
        row = self.row_of(key)
        if row is None:
            return False
        self._remove_rows(row, row)
        return True

    def clear(self) -> None:
        if self._rows:
            self._reset_rows([])

    def restore(self, chips: list[Chip]) -> None:
        """Show ``chips`` (parked by ``take``) instead of what is shown."""
        if chips or self._rows:
            self._reset_rows(chips)

    def _update(self, key: int, **changes: Any) -> None:
        row = self.row_of(key)
        if row is None:  # removed while its file was being added
            return
        self._set_row(row, replace(self._rows[row], **changes))
        self._emit_changed(row, [int(role) for role in ChipRoles])

    # -- reading ---------------------------------------------------------------------

    def chips(self) -> list[Chip]:
        return list(self._rows)

    def chip(self, key: int) -> Chip | None:
        row = self.row_of(key)
        return self._rows[row] if row is not None else None

    def sendable(self) -> list[Chip]:
        """The chips whose file is stored (ready, or its text still being read)."""
        return [
            chip
            for chip in self._rows
            if chip.state in (ChipState.READY, ChipState.READING) and chip.record is not None
        ]

    def counted(self) -> int:
        """The chips that would go with the message (adding or ready, not failed)."""
        return sum(1 for chip in self._rows if chip.state is not ChipState.FAILED)


class ChipDelegate(QStyledItemDelegate):
    """Paints a chip: thumbnail, name and size, ×; a click on × asks to remove it.

    Signals:
        remove_requested: the × of this chip was clicked (int key).
    """

    remove_requested = Signal(int)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(CHIP_WIDTH, CHIP_HEIGHT)

    @staticmethod
    def close_rect(rect: QRect) -> QRect:
        """Where a chip painted in ``rect`` draws its ×."""
        return QRect(rect.right() - _CLOSE - _PAD, rect.top() + _PAD, _CLOSE, _CLOSE)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        rect: QRect = option.rect.adjusted(2, 2, -2, -2)
        palette = option.palette
        failed = index.data(ChipRoles.State) == ChipState.FAILED.value
        warned = not failed and bool(index.data(ChipRoles.Reason))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        border = QColor("#d03030") if failed else palette.mid().color()
        painter.setPen(QPen(border, 1.5 if failed else 1.0))
        painter.setBrush(QColor(208, 48, 48, 28) if failed else palette.base())
        painter.drawRoundedRect(rect, 6, 6)
        left = rect.left() + _PAD
        thumb = index.data(ChipRoles.Thumbnail)
        if isinstance(thumb, QImage) and not thumb.isNull():
            target = QRect(left, rect.top() + (rect.height() - THUMB) // 2, THUMB, THUMB)
            shown = thumb.size().scaled(target.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target.setSize(shown)
            painter.drawImage(target, thumb)
            left += THUMB + _PAD
        close = self.close_rect(rect)
        reading = index.data(ChipRoles.State) == ChipState.READING.value
        text_rect = QRect(  # above the progress bar while reading
            left, rect.top() + 2, close.left() - left - _PAD, rect.height() - (8 if reading else 4)
        )
        font = option.font
        metrics = option.fontMetrics
        name = metrics.elidedText(
            str(index.data(ChipRoles.FileName)), Qt.TextElideMode.ElideMiddle, text_rect.width()
        )
        state = index.data(ChipRoles.State)
        size = int(index.data(ChipRoles.SizeBytes) or 0)
        progress = float(index.data(ChipRoles.Progress) or 0.0)
        detail = {
            ChipState.ADDING.value: "adding…",
            ChipState.READING.value: f"reading… {progress:.0%}",
            ChipState.FAILED.value: "not attached",
        }.get(state, "the model cannot read it" if warned else size_label(size))
        painter.setFont(font)
        painter.setPen(palette.text().color())
        top = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        painter.drawText(text_rect, int(top), name)
        painter.setPen(
            QColor("#d03030")
            if failed
            else QColor(WARNING_COLOR)
            if warned
            else palette.placeholderText().color()
        )
        bottom = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
        painter.drawText(text_rect, int(bottom), detail)
        if reading:  # a thin bar along the bottom edge
            bar = QRect(rect.left() + 6, rect.bottom() - 4, rect.width() - 12, 2)
            painter.fillRect(bar, palette.mid())
            bar.setWidth(int(bar.width() * min(max(progress, 0.0), 1.0)))
            painter.fillRect(bar, palette.highlight())
        painter.setPen(QPen(palette.text().color(), 1.4))
        inner = close.adjusted(4, 4, -4, -4)
        painter.drawLine(inner.topLeft(), inner.bottomRight())
        painter.drawLine(inner.topRight(), inner.bottomLeft())
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(palette.highlight().color(), 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect, 6, 6)
        painter.restore()

    def editorEvent(
        self,
        event: QEvent,
        model: QAbstractItemModel,
        option: QStyleOptionViewItem,
        index: Index,
    ) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
        ):
            rect: QRect = option.rect.adjusted(2, 2, -2, -2)
            if self.close_rect(rect).contains(event.position().toPoint()):
                self.remove_requested.emit(int(index.data(ChipRoles.Key)))
                return True
        return super().editorEvent(event, model, option, index)


class AttachmentChips(QListView):
    """The chips in a row above the composer; hidden while there are none.

    Delete or Backspace removes the current chip, as its × does.

    Signals:
        remove_requested: remove this chip (int key).
    """

    remove_requested = Signal(int)

    def __init__(self, model: AttachmentChipModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentChips")
        self.setAccessibleName("Attached files")
        self.setModel(model)
        self.chip_delegate = ChipDelegate(self)
        self.setItemDelegate(self.chip_delegate)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFixedHeight(CHIP_HEIGHT + 8)
        self.chip_delegate.remove_requested.connect(self.remove_requested)
        model.rowsInserted.connect(self._follow_rows)
        model.rowsRemoved.connect(self._follow_rows)
        model.modelReset.connect(self._follow_rows)
        self.setVisible(False)

    def _follow_rows(self, *_args: object) -> None:
        count = self.model().rowCount()
        rows = 1 if count <= 3 else 2
        self.setFixedHeight(rows * (CHIP_HEIGHT + 4) + 4)
        self.setVisible(count > 0)

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            index: QModelIndex = self.currentIndex()
            if index.isValid():
                self.remove_requested.emit(int(index.data(ChipRoles.Key)))
                event.accept()
                return
        super().keyPressEvent(event)
