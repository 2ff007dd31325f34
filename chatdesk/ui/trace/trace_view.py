"""The steps tree of the trace panel: run headers spanning the row, steps in columns.

Why its own view class: run rows span all columns, steps page in as the reader
scrolls down (the model reads them in pages), Ctrl+C copies the selected rows as
tab-separated text, and the view follows a live run only when the reader is already
at the bottom.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QHelpEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QTreeView,
    QWidget,
)

from chatdesk.ui.trace.trace_columns import TraceColumns
from chatdesk.ui.trace.trace_model import TraceModel

FOLLOW_SLACK_PX = 4
"""How close to the bottom still counts as "at the bottom" (follow new steps)."""
FETCH_AHEAD_PX = 200
ROW_PADDING_PX = 6


class _RoomyDelegate(QStyledItemDelegate):
    """Rows a little taller than the font, so a dense log stays readable; a cell whose
    text is cut short (elided) shows it whole in its tooltip."""

    def helpEvent(
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if event.type() != QEvent.Type.ToolTip or not index.isValid():
            return super().helpEvent(event, view, option, index)
        text = self.elided_text(option, index)
        if text:
            QToolTip.showText(event.globalPos(), text, view, option.rect)
        else:
            QToolTip.hideText()
        return True

    def elided_text(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> str | None:
        """The cell's full text when it does not fit its cell, else None."""
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        if not opt.text:
            return None
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        room = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, opt.widget)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, opt.widget) + 1
        fits = opt.fontMetrics.horizontalAdvance(opt.text) <= room.width() - 2 * margin
        return None if fits else opt.text

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width(), hint.height() + ROW_PADDING_PX)


class TraceView(QTreeView):
    """A tree over a ``TraceModel`` (objectName ``traceSteps``)."""

    def __init__(self, model: TraceModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("traceSteps")
        self.setAccessibleName("Run steps")
        self._model = model
        self.setModel(model)
        self.setUniformRowHeights(True)  # thousands of rows stay cheap to lay out
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAllColumnsShowFocus(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setItemDelegate(_RoomyDelegate(self))
        self.setAlternatingRowColors(False)
        self.setIndentation(14)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self.on_context_menu)
        header = self.header()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.columns = TraceColumns(self, model)  # widths follow the steps' text
        self._scroll_pending = False
        self._following = False
        model.modelReset.connect(self._on_reset)
        model.rowsInserted.connect(self._on_rows_inserted)
        self.verticalScrollBar().valueChanged.connect(self._fetch_if_near_end)

    # -- following a live run ---------------------------------------------------------

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - FOLLOW_SLACK_PX

    def note_follow(self) -> None:
        """Call before new steps go in: remembers whether to follow them to the bottom."""
        if not self._scroll_pending:
            self._following = self.at_bottom()

    def follow(self) -> None:
        """After new steps went in: scroll to them (once per event-loop turn) if following."""
        if self._following and not self._scroll_pending:
            self._scroll_pending = True
            QTimer.singleShot(0, self._scroll_to_end)

    def _scroll_to_end(self) -> None:
        self._scroll_pending = False
        self.scrollToBottom()

    # -- structure --------------------------------------------------------------------

    def _on_reset(self) -> None:
        rows = self._model.rowCount()
        for row in range(rows):
            self.setFirstColumnSpanned(row, QModelIndex(), True)
        if rows:  # the newest run open, older ones folded (a click away)
            self.expand(self._model.index(rows - 1, 0))

    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        for row in range(first, last + 1):
            self.setFirstColumnSpanned(row, QModelIndex(), True)
            self.expand(self._model.index(row, 0))

    def _fetch_if_near_end(self, value: int) -> None:
        bar = self.verticalScrollBar()
        if value < bar.maximum() - FETCH_AHEAD_PX:
            return
        for row in range(self._model.rowCount()):
            index = self._model.index(row, 0)
            if self.isExpanded(index) and self._model.canFetchMore(index):
                self._model.fetchMore(index)
                return

    # -- copying ----------------------------------------------------------------------

    def selected_text(self) -> str:
        """The selected rows, one per line, columns tab-separated, in the order shown."""
        rows = self.selectionModel().selectedRows(0)
        rows.sort(key=self._order)
        return "\n".join(self._model.row_text(index) for index in rows)

    def _order(self, index: QModelIndex | QPersistentModelIndex) -> tuple[int, int]:
        parent = index.parent()
        return (parent.row(), index.row()) if parent.isValid() else (index.row(), -1)

    def copy_selected(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selected()
            event.accept()
            return
        super().keyPressEvent(event)

    def on_context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        if not self.selectionModel().isRowSelected(index.row(), index.parent()):
            self.setCurrentIndex(index)
        menu = QMenu(self)
        copy = menu.addAction("Copy")
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.triggered.connect(self.copy_selected)
        menu.popup(self.viewport().mapToGlobal(pos))
