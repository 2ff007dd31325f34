"""The small pictures of the images messages carry, for the bubbles' file chips.

Why one decoding task and a stack: scrolling a chat of a thousand photos asks for
dozens of pictures a second. A thread each (what this did first) cost the GUI thread
a thread start per picture and set dozens of decoders against it for the GIL and the
two cores. One task decodes them one at a time, the newest ask first (what is on the
screen now), and forgets asks that scrolled away (``PENDING_MAX``); each picture comes
back as the task's progress, already in the format the painter draws fastest. The task
ends when there is nothing to decode and starts again on the next ask.

Only stored attachments are decoded, found by id through ``path_of`` (which checks the
person may read it): a message's text never names a file to load.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from chatdesk.services.attachments import AttachmentService
from chatdesk.services.errors import ServiceError
from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.chat.attaching import thumbnail
from chatdesk.ui.tasks import Task, TaskControl, Tasks

log = logging.getLogger(__name__)

KEPT = 2_000
"""Pictures kept (about 5 KB each at chip size): a long chat scrolls back without
decoding again."""
PENDING_MAX = 48
"""Asks kept waiting; older ones (scrolled past) are dropped and asked again if shown."""
IDLE_S = 2.0
"""How long the decoding task waits for another ask before it ends."""
POLL_S = 0.05
"""How often a waiting task looks whether it was stopped (the window closing)."""


class _Asks:
    """The pictures wanted, newest last; shared by the GUI thread and the decoder."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._stack: list[tuple[int, Callable[[], Path]]] = []

    def push(self, attachment_id: int, path: Callable[[], Path]) -> list[int]:
        """Add an ask; the ids of the asks dropped to make room."""
        with self._lock:
            self._stack.append((attachment_id, path))
            dropped = self._stack[:-PENDING_MAX]
            del self._stack[:-PENDING_MAX]
            self._lock.notify()
        return [attachment_id for attachment_id, _path in dropped]

    def pop(self, wait_s: float) -> tuple[int, Callable[[], Path]] | None:
        """The newest ask, waiting up to ``wait_s`` for one; None when none came."""
        with self._lock:
            if not self._stack:
                self._lock.wait(wait_s)
            return self._stack.pop() if self._stack else None

    def pending(self) -> bool:
        with self._lock:
            return bool(self._stack)


class BubbleThumbnails(QObject):
    """The delegate's ``Thumbnails``: a picture per image attachment, decoded off the
    GUI thread on first ask and kept for the last ``KEPT`` images.

    Signals:
        ready: a picture came in (int attachment id): repaint.
    """

    ready = Signal(int)

    def __init__(
        self,
        attachments: AttachmentService,
        user_id: int,
        tasks: Tasks,
        side: int,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._attachments = attachments
        self._user_id = user_id
        self._tasks = tasks
        self._side = side
        self._kept: OrderedDict[int, QImage] = OrderedDict()
        self._asked: set[int] = set()
        self._asks = _Asks()
        self._task: Task | None = None

    def cached(self, attachment_id: int) -> QImage | None:
        """The picture kept for an attachment, without asking for one."""
        return self._kept.get(attachment_id)

    def thumbnail(self, record: AttachmentRecord) -> QImage | None:
        """The picture of ``record`` if decoded; else None, and it is asked for."""
        picture = self._kept.get(record.id)
        if picture is not None:
            self._kept.move_to_end(record.id)
            return picture
        if record.id in self._asked:
            return None
        self._asked.add(record.id)
        attachments, user_id = self._attachments, self._user_id
        dropped = self._asks.push(record.id, lambda: attachments.path_of(user_id, record.id))
        self._asked.difference_update(dropped)
        if self._task is None:
            self._start()
        return None

    def _start(self) -> None:
        asks, side = self._asks, self._side

        def work(control: TaskControl) -> None:
            idle = 0.0
            while not control.stopping():
                ask = asks.pop(POLL_S)
                if ask is None:
                    idle += POLL_S
                    if idle >= IDLE_S:
                        return
                    continue
                idle = 0.0
                attachment_id, path = ask
                control.progress((attachment_id, _decode(path, side)))

        task = self._task = self._tasks.start("chatdesk-thumbnails", work)
        task.progressed.connect(self._on_decoded)
        task.ended.connect(self._on_ended)

    def _on_decoded(self, decoded: tuple[int, QImage | None]) -> None:
        attachment_id, picture = decoded
        if picture is None:
            return  # stays asked: a file that cannot be shown is not tried on every paint
        self._asked.discard(attachment_id)
        self._kept[attachment_id] = picture
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
        self.ready.emit(attachment_id)

    def _on_ended(self) -> None:
        self._task = None
        if self._asks.pending():
            self._start()  # an ask came in as the task was ending


def _decode(path: Callable[[], Path], side: int) -> QImage | None:
    """The picture at chip size, premultiplied (the raster painter's own format)."""
    try:
        image = thumbnail(path(), side)
    except (ServiceError, OSError) as error:
        log.warning("thumbnail failed: %s", error)
        return None
    if image is None:
        return None
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
