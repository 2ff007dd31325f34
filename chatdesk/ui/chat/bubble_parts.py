"""What the message list's layers share, so none of them imports another's module.

The delegate paints a bubble and lays it out; the text selection and the action bar
paint on top of it. They meet here: the bubble's geometry, the row spacing and the
status font, and the two small painter protocols the delegate calls (``TextLayer``,
``BarLayer``). The selection and the bar import the delegate; the delegate imports
neither, it only holds whatever was given to it as a layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSizeF
from PySide6.QtGui import QAbstractTextDocumentLayout, QFont, QImage, QPainter, QTextDocument

from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.theme import Colors

ROW_SPACING = 7


@dataclass(frozen=True)
class BubbleGeometry:
    """Where the parts of one bubble go, in viewport coordinates."""

    bubble: QRectF
    text: QRectF
    status: QRectF
    retry: QRectF | None
    files: tuple[QRectF, ...] = ()
    """One chip per attached file, in the message's order, between text and status."""
    citations: tuple[QRectF, ...] = ()
    """One link per document place the reply was shown, below the files."""


def status_font(font: QFont) -> QFont:
    """The status line's smaller font (the action bar's labels use it too)."""
    small = QFont(font)
    size = font.pointSizeF()
    if size > 0:
        small.setPointSizeF(max(size - 1.5, 7.0))
    return small


class Thumbnails(Protocol):
    """Small pictures of attached images, decoded elsewhere (None: not ready yet)."""

    def thumbnail(self, record: AttachmentRecord) -> QImage | None: ...


class TextLayer(Protocol):
    """Paints a bubble's text (with its selection and scrolled code blocks)."""

    def paint_text(
        self,
        painter: QPainter,
        message_id: int,
        doc: QTextDocument,
        ctx: QAbstractTextDocumentLayout.PaintContext,
        size: QSizeF,
        user: bool,
    ) -> None: ...


class BarLayer(Protocol):
    """Paints a reply's hover bar and its code blocks' Copy buttons."""

    def shows_bar(self, message_id: int) -> bool: ...

    def paint_bar(
        self,
        painter: QPainter,
        index: QModelIndex | QPersistentModelIndex,
        row_rect: QRect,
        font: QFont,
        c: Colors,
    ) -> None: ...

    def paint_code_buttons(
        self, painter: QPainter, message_id: int, doc: QTextDocument, font: QFont, c: Colors
    ) -> None: ...
