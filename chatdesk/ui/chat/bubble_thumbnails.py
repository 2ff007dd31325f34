"""The small pictures of the images messages carry, for the bubbles' file chips.

Decoded by ``ui/on_demand.py`` (one task, the newest ask first, asks scrolled past
dropped), already in the format the painter draws fastest, and kept for the last
``KEPT`` images. Only stored attachments are decoded, found by id through ``path_of``
(which checks the person may read it): a message's text never names a file to load.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from chatdesk.services.attachments import AttachmentService
from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.chat.attaching import thumbnail
from chatdesk.ui.on_demand import OnDemand
from chatdesk.ui.tasks import Tasks

KEPT = 2_000
"""Pictures kept (about 5 KB each at chip size): a long chat scrolls back without
decoding again."""
PENDING_MAX = 48
"""Asks kept waiting; older ones (scrolled past) are dropped and asked again if shown."""


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
        self._side = side
        self._kept: OrderedDict[int, QImage] = OrderedDict()
        self._asked: set[int] = set()
        self._maker = OnDemand(tasks, "chatdesk-thumbnails", PENDING_MAX, self)
        self._maker.made.connect(self._on_made)

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
        attachments, user_id, side = self._attachments, self._user_id, self._side

        def decode() -> QImage | None:
            image = thumbnail(attachments.path_of(user_id, record.id), side)
            if image is None:
                return None
            return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)

        dropped = self._maker.ask(record.id, decode)
        self._asked.difference_update(int(key) for key in dropped if isinstance(key, int))
        return None

    def _on_made(self, key: Hashable, picture: object) -> None:
        if not isinstance(key, int) or not isinstance(picture, QImage):
            return  # stays asked: a file that cannot be shown is not tried on every paint
        self._asked.discard(key)
        self._kept[key] = picture
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
        self.ready.emit(key)
