"""The places of attached documents a reply was shown, as links under its bubble.

A run that told the model about documents keeps them on the reply
(``meta["citations"]``: attachment id, name, label, unit, first, last; see
``runs/run_documents.py``). ``citations_of`` reads them back as a hostile file's data
would be read (a JSON import can carry anything): plain values only, one line each,
a bounded number. The delegate paints the labels with ``drawText`` (plain text, never
rich text), so a file named ``<a href=…>`` stays those characters.

A click opens the document at its place (``CitationOpener``):

- a text or code file opens in ``DocumentViewer``, a read-only view scrolled to the
  passage's lines, which are selected;
- a PDF opens with the system's viewer, at its start: a ``#page=4`` fragment is only
  honoured by browsers' PDF viewers and Acrobat, ignored by Evince, Okular and
  Preview, and makes some launchers look for a file called ``report.pdf#page=4``. So
  the stored copy opens as it is and a notice names the page;
- a Word document opens with the system too; Word lays its pages out anew on every
  machine, so the notice names the paragraph.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QTextCursor
from PySide6.QtWidgets import QDialog, QPlainTextEdit, QVBoxLayout, QWidget

from chatdesk.services.attachments import AttachmentService
from chatdesk.services.documents.plain_text import read_text
from chatdesk.services.documents.reading import Reading
from chatdesk.services.errors import ServiceError
from chatdesk.ui.notices import Notices
from chatdesk.ui.tasks import Tasks, failure_reason

log = logging.getLogger(__name__)

MAX_LINKS = 20
MAX_LABEL_CHARS = 80
UNITS = frozenset({"page", "paragraph", "line"})


@dataclass(frozen=True)
class CitationLink:
    """One place a reply was shown: ``label`` reads "report.pdf, page 4"."""

    attachment: int
    name: str
    label: str
    unit: str
    first: int
    last: int

    def as_role(self) -> dict[str, Any]:
        """For the message list's ``citations`` role."""
        return asdict(self)


def citations_of(metadata: Mapping[str, Any]) -> tuple[CitationLink, ...]:
    """The reply's citations, checked: malformed entries are left out."""
    raw = metadata.get("citations")
    if not isinstance(raw, list):
        return ()
    links: list[CitationLink] = []
    for item in raw[:MAX_LINKS]:
        link = _link(item)
        if link is not None:
            links.append(link)
    return tuple(links)


def _link(item: object) -> CitationLink | None:
    if not isinstance(item, dict):
        return None
    attachment, first, last = item.get("attachment"), item.get("first"), item.get("last")
    name, label, unit = item.get("name"), item.get("label"), item.get("unit")
    numbers = (attachment, first, last)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        return None
    if not isinstance(name, str) or not isinstance(label, str) or unit not in UNITS:
        return None
    assert isinstance(attachment, int) and isinstance(first, int) and isinstance(last, int)
    return CitationLink(
        attachment, _one_line(name), _one_line(label), str(unit), first, max(first, last)
    )


def _one_line(text: str) -> str:
    """Blanks and control characters folded to single spaces, within reason."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    folded = " ".join(cleaned.split())
    if len(folded) > MAX_LABEL_CHARS:
        return folded[: MAX_LABEL_CHARS - 1] + "…"
    return folded


class DocumentViewer(QDialog):
    """A text file, read-only, scrolled to lines ``first``–``last`` (selected)."""

    def __init__(
        self, title: str, text: str, first: int, last: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("documentViewer")
        self.setWindowTitle(title)
        self.resize(760, 560)
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("documentText")
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setPlainText(text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor)
        self.show_lines(first, last)

    def show_lines(self, first: int, last: int) -> None:
        """Select lines ``first``–``last`` (from 1) and bring them into view."""
        document = self.editor.document()
        start = document.findBlockByLineNumber(max(first - 1, 0))
        end = document.findBlockByLineNumber(max(last - 1, 0))
        if not end.isValid():
            end = document.lastBlock()
        cursor = QTextCursor(start)
        cursor.setPosition(end.position() + end.length() - 1, QTextCursor.MoveMode.KeepAnchor)
        self.editor.setTextCursor(cursor)
        self.editor.centerCursor()

    def selected_lines(self) -> tuple[int, int]:
        """The first and last line selected (from 1)."""
        cursor = self.editor.textCursor()
        document = self.editor.document()
        first = document.findBlock(cursor.selectionStart()).blockNumber() + 1
        last = document.findBlock(cursor.selectionEnd()).blockNumber() + 1
        return first, last


class CitationOpener(QObject):
    """Opens a citation's document at its place, for one user (see the module doc).

    Signals:
        viewer_opened: a ``DocumentViewer`` was shown.
    """

    viewer_opened = Signal(object)

    def __init__(
        self,
        attachments: AttachmentService,
        user_id: int,
        tasks: Tasks,
        notices: Notices,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._attachments = attachments
        self._user_id = user_id
        self._tasks = tasks
        self._notices = notices
        self._parent = parent

    def open(self, link: CitationLink) -> None:
        try:
            path = self._attachments.path_of(self._user_id, link.attachment)
        except ServiceError as error:
            self._notices.error(f"{link.name} cannot be opened: {error}")
            return
        if link.unit == "line":
            task = self._tasks.start("chatdesk-citation", partial(_read_lines, path, link))
            task.succeeded.connect(partial(self._show_text, link))
            task.failed.connect(partial(self._failed, link))
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self._notices.error(f"No application here opens {link.name}.")
            return
        where = link.label.removeprefix(f"{link.name}, ")
        self._notices.info(f"{link.name} opened; the passage is at {where}.")

    def _show_text(self, link: CitationLink, text: str) -> None:
        viewer = DocumentViewer(link.label, text, link.first, link.last, self._parent)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        viewer.show()
        self.viewer_opened.emit(viewer)

    def _failed(self, link: CitationLink, error: BaseException) -> None:
        reason = getattr(error, "message", None) or failure_reason(error, f"opening {link.name}")
        self._notices.error(f"{link.name} cannot be opened: {reason}")


def _read_lines(path: Path, link: CitationLink, _control: object) -> str:
    """The text file's lines as chatdesk read them for the model (same decoding)."""
    document = read_text(path, Reading(link.name, None, None))
    lines: list[str] = [""] * document.places
    for part in document.parts:
        for offset, line in enumerate(part.text.split("\n")):
            if part.number - 1 + offset < len(lines):
                lines[part.number - 1 + offset] = line
    return "\n".join(lines)
