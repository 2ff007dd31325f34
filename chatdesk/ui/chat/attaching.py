"""Adding files for the next message: from the Attach button, a drop or a paste.

Each file becomes a chip at once (``adding``) and is copied in by
``services.attachments.add`` as a background task (a 50 MB file never holds the GUI
thread); an image's thumbnail is decoded there too, at chip size (``QImageReader`` with
a scaled size: the full image is never decoded). The chip turns ``ready``, or
``failed`` with the reason as its tooltip and as a notice; nothing is stored for a
failed file.

A document (PDF, DOCX, text) is then read into text by a second task
(``services.document_texts``, which keeps the text for the run): the chip is
``reading`` with its progress, and can be sent meanwhile (the run waits for the same
reading rather than starting another). The reading runs ``gui_first`` (``ui/tasks.py``):
pypdf is pure Python, and beside it the window's 10 ms timer was up to 130 ms late
while a 48 MB PDF was read; with the GIL handed back sooner and no automatic
collections meanwhile, 20 ms (``python -m chatdesk.bench.documents``).

A document whose text cannot be read (scanned, damaged, over the limits) stays
attached, its chip saying in amber that the model will not see it: the person may
still want the file in the chat (a scan to keep, a file to open from there), and the
reply will say the same; refusing it would make them choose between the two.

More files than a message may carry are refused before anything is copied, with the
limit named.

Chips belong to the chat they were added in, like its draft: switching chats parks
them and shows the other chat's (``switch``); chips added with no chat open go along
to the chat that opens next (a send with no chat open creates one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QIODevice,
    QObject,
    QSize,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDragMoveEvent, QDropEvent, QImage, QImageReader
from PySide6.QtWidgets import QWidget

from chatdesk.services.attachment_types import (
    MAX_DOCUMENT_BYTES,
    MAX_FILES_PER_MESSAGE,
    MAX_IMAGE_BYTES,
    megabytes,
)
from chatdesk.services.attachments import AttachmentService
from chatdesk.services.document_texts import DocumentTexts
from chatdesk.services.documents.model import DocumentError
from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.chat.attachment_chips import THUMB, AttachmentChipModel, Chip, ChipState
from chatdesk.ui.notices import Notices
from chatdesk.ui.tasks import Task, TaskControl, Tasks, failure_reason
from chatdesk.vocabulary import AttachmentKind

log = logging.getLogger(__name__)

LIMITS = (
    f"Images (PNG, JPEG, WebP, GIF) up to {megabytes(MAX_IMAGE_BYTES)}; PDF, Word (DOCX), "
    f"text, Markdown, CSV and code files up to {megabytes(MAX_DOCUMENT_BYTES)}; "
    f"at most {MAX_FILES_PER_MESSAGE} files per message."
)
"""The limits as the Attach button's tooltip states them."""
PASTED_NAME = "pasted image.png"
DOCUMENT_KINDS = frozenset({AttachmentKind.PDF, AttachmentKind.DOCX, AttachmentKind.TEXT})


def thumbnail(path: Path, side: int = THUMB) -> QImage | None:
    """The image at ``path`` decoded at most ``side`` pixels wide and high (any thread)."""
    reader = QImageReader(str(path))
    size = reader.size()
    if not size.isValid():
        return None
    if size.width() > side or size.height() > side:
        reader.setScaledSize(size.scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image


class Attaching(QObject):
    """The person's files for the next message, in ``model``, for one user.

    Signals:
        settled: no chip is adding any more.
    """

    settled = Signal()

    def __init__(
        self,
        attachments: AttachmentService,
        user_id: int,
        tasks: Tasks,
        notices: Notices,
        model: AttachmentChipModel,
        parent: QObject | None = None,
        *,
        texts: DocumentTexts | None = None,
    ) -> None:
        super().__init__(parent)
        self._attachments = attachments
        self._texts = texts
        self._user_id = user_id
        self._tasks = tasks
        self._notices = notices
        self.model = model
        self._running: dict[int, Task] = {}
        self._thread: int | None = None
        self._parked: dict[int, list[Chip]] = {}
        """The chips of chats not shown, by chat id."""

    # -- adding ----------------------------------------------------------------------

    def _room_for(self, count: int) -> bool:
        """Whether ``count`` more files fit in the message; if not, say so."""
        have = self.model.counted()
        if have + count <= MAX_FILES_PER_MESSAGE:
            return True
        self._notices.error(
            f"A message can carry at most {MAX_FILES_PER_MESSAGE} files; "
            f"{have} already attached, {count} more refused."
        )
        return False

    def add_paths(self, paths: Iterable[str | Path]) -> list[int]:
        """Start adding these local files; the keys of their chips (none if refused)."""
        files = [Path(path) for path in paths]
        if not files or not self._room_for(len(files)):
            return []
        keys = []
        for file in files:
            key = self.model.add(file.name)
            work = partial(_add_file, self._attachments, self._user_id, file)
            keys.append(key)
            self._start(key, file.name, work)
        return keys

    def add_urls(self, urls: Iterable[QUrl]) -> list[int]:
        """Add the local files among dropped or pasted ``urls``; others are refused."""
        urls = list(urls)
        local = [url.toLocalFile() for url in urls if url.isLocalFile() and url.toLocalFile()]
        if len(local) < len(urls):
            self._notices.error(
                "Only files on this computer can be attached; links and remote files are not "
                "downloaded."
            )
        return self.add_paths(local)

    def add_image(self, image: QImage, name: str = PASTED_NAME) -> int | None:
        """Add a pasted image as a PNG (encoded off the GUI thread); its chip's key (None
        if refused)."""
        if image.isNull() or not self._room_for(1):
            return None
        key = self.model.add(name)
        work = partial(_add_image, self._attachments, self._user_id, image.copy(), name)
        self._start(key, name, work)
        return key

    def _start(self, key: int, name: str, work: Callable[[], object]) -> None:
        task = self._tasks.start("chatdesk-attach", lambda _control: work())
        task.succeeded.connect(partial(self._on_added, key))
        task.failed.connect(partial(self._on_failed, key, name))
        task.ended.connect(partial(self._on_ended, key))
        self._running[key] = task

    def _on_added(self, key: int, added: tuple[AttachmentRecord, QImage | None]) -> None:
        record, image = added
        if self.model.chip(key) is not None:
            self.model.set_ready(key, record, image)
        else:
            self._update_parked(
                key,
                state=ChipState.READY,
                record=record,
                file_name=record.file_name,
                mime_type=record.mime_type,
                size_bytes=record.size_bytes,
                thumbnail=image,
            )
        if self._texts is not None and record.kind in DOCUMENT_KINDS:
            self._set_reading(key, 0.0)
            self._start_reading(key, record, self._texts)

    # -- reading a document's text ---------------------------------------------------

    def _start_reading(self, key: int, record: AttachmentRecord, texts: DocumentTexts) -> None:
        """Extract the document's text on a task of its own (after the add's ended)."""
        work = partial(_read_document, self._attachments, self._user_id, texts, record)
        task = self._tasks.start("chatdesk-read-document", work, gui_first=True)
        task.progressed.connect(partial(self._on_read_progress, key))
        task.succeeded.connect(partial(self._on_read, key, ""))
        task.failed.connect(partial(self._on_read_failed, key, record.file_name))
        task.ended.connect(partial(self._on_ended, key))
        self._running[key] = task

    def _on_read_progress(self, key: int, share: object) -> None:
        if isinstance(share, float):
            self._set_reading(key, share)

    def _set_reading(self, key: int, share: float) -> None:
        if self.model.chip(key) is not None:
            self.model.set_reading(key, share)
        else:
            self._update_parked(key, state=ChipState.READING, progress=share)

    def _on_read(self, key: int, warning: str, _result: object = None) -> None:
        if self.model.chip(key) is not None:
            self.model.set_read(key, warning)
        else:
            self._update_parked(key, state=ChipState.READY, progress=1.0, reason=warning)

    def _on_read_failed(self, key: int, name: str, error: BaseException) -> None:
        """Attached all the same; the chip (and a notice) says the model will not see it."""
        if isinstance(error, DocumentError):
            reason = error.message
        else:
            reason = failure_reason(error, f"reading {name}")
        warning = f"The model will not see {name}: {reason}"
        self._on_read(key, warning)
        self._notices.error(warning)

    def _on_failed(self, key: int, name: str, error: BaseException) -> None:
        reason = failure_reason(error, f"attaching {name}")
        if self.model.chip(key) is not None:
            self.model.set_failed(key, reason)
        else:
            self._update_parked(key, state=ChipState.FAILED, reason=reason)
        self._notices.error(f"{name} was not attached: {reason}")

    def _update_parked(self, key: int, **changes: Any) -> None:
        for chips in self._parked.values():
            for n, chip in enumerate(chips):
                if chip.key == key:
                    chips[n] = replace(chip, **changes)

    # -- chats -----------------------------------------------------------------------

    def switch(self, thread_id: int | None) -> None:
        """Show the chips of ``thread_id``'s chat, parking the shown ones with theirs
        (chips added with no chat open come along)."""
        if thread_id == self._thread:
            return
        shown = self.model.chips()
        if self._thread is not None:
            if shown:
                self._parked[self._thread] = shown
            shown = []
        self._thread = thread_id
        waiting = self._parked.pop(thread_id, []) if thread_id is not None else []
        self.model.restore(shown + waiting)

    def _on_ended(self, key: int) -> None:
        if key in self._running and self._running[key].is_running():
            return  # the add ended and its document's reading has started
        self._running.pop(key, None)
        if not self._running:
            self.settled.emit()

    # -- reading and removing --------------------------------------------------------

    def adding(self) -> list[str]:
        """The names of the files still being added."""
        return [chip.file_name for chip in self.model.chips() if chip.state is ChipState.ADDING]

    def ready(self) -> list[AttachmentRecord]:
        """The files ready to go with the message, in order."""
        return [chip.record for chip in self.model.sendable() if chip.record is not None]

    def remove(self, key: int) -> None:
        """Take a chip away (its file, held for a while, is freed by the sweep)."""
        task = self._running.pop(key, None)
        if task is not None:
            task.close()
        self.model.remove(key)
        if task is not None and not self._running:
            self.settled.emit()

    def sent(self, records: Iterable[AttachmentRecord]) -> None:
        """The message with ``records`` was written: their chips go, and failed ones."""
        gone = {record.id for record in records}
        for chip in self.model.chips():
            if chip.state is ChipState.FAILED or (chip.record and chip.record.id in gone):
                self.model.remove(chip.key)
        for thread_id, chips in list(self._parked.items()):
            kept = [chip for chip in chips if not (chip.record and chip.record.id in gone)]
            if kept:
                self._parked[thread_id] = kept
            else:
                del self._parked[thread_id]

    def clear(self) -> None:
        """Take every chip away (after the message they went with was written)."""
        for key in list(self._running):
            self.remove(key)
        self.model.clear()


def _with_thumbnail(
    attachments: AttachmentService, user_id: int, record: AttachmentRecord
) -> tuple[AttachmentRecord, QImage | None]:
    if record.kind is not AttachmentKind.IMAGE:
        return record, None
    try:
        return record, thumbnail(attachments.path_of(user_id, record.id))
    except Exception:  # a chip without a picture is still a chip
        log.warning("no thumbnail for %s", record.file_name, exc_info=True)
        return record, None


def _add_file(
    attachments: AttachmentService, user_id: int, path: Path
) -> tuple[AttachmentRecord, QImage | None]:
    return _with_thumbnail(attachments, user_id, attachments.add(user_id, path))


PROGRESS_STEPS = 100
"""Progress reports per document at most (one a percent): a page is not worth a post."""


def _read_document(
    attachments: AttachmentService,
    user_id: int,
    texts: DocumentTexts,
    record: AttachmentRecord,
    control: TaskControl,
) -> None:
    """Extract (or find kept) the text of ``record``; reports its share read (float)."""
    shown = -1

    def progress(done: int, total: int) -> None:
        nonlocal shown
        step = done * PROGRESS_STEPS // total if total else PROGRESS_STEPS
        if step != shown:
            shown = step
            control.progress(step / PROGRESS_STEPS)

    path = attachments.path_of(user_id, record.id)
    texts.document(
        record.sha256,
        path,
        record.kind.value,
        record.file_name,
        on_progress=progress,
        should_stop=control.stopping,
    )


def _add_image(
    attachments: AttachmentService, user_id: int, image: QImage, name: str
) -> tuple[AttachmentRecord, QImage | None]:
    """Encode a pasted image as PNG (here, off the GUI thread: a screenshot takes a
    while) and add it."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    buffer.close()
    record = attachments.add_bytes(user_id, bytes(data.data()), name)
    return _with_thumbnail(attachments, user_id, record)


class FileDrops(QObject):
    """Lets a widget (the message list's viewport) take dropped files.

    Signals:
        urls_dropped: URLs were dropped on the widget (list of QUrl).
    """

    urls_dropped = Signal(list)

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(
            event, QDragMoveEvent
        ):
            if event.mimeData().hasUrls():
                event.acceptProposedAction()
                return True
        elif (
            kind == QEvent.Type.Drop
            and isinstance(event, QDropEvent)
            and event.mimeData().hasUrls()
        ):
            event.acceptProposedAction()
            self.urls_dropped.emit(list(event.mimeData().urls()))
            return True
        return False
