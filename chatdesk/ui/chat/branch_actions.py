"""A bubble's branch commands: Branch into new chat, and Delete (the message and all below).

Delete says what it will take before doing it (a question for the person, with the
number of messages), then deletes at once so every window shows the chat as it now is,
and offers Undo for a while (``UNDO_MS``): the services kept the rows and put them back
exactly. A branch too large to keep is said to be final in the question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from chatdesk.services import Services
from chatdesk.services.branch_undo import UNDO_LIMIT
from chatdesk.services.errors import ServiceError
from chatdesk.services.messages import DeletedBranch
from chatdesk.ui.notices import Notices
from chatdesk.ui.toast import Toast

log = logging.getLogger(__name__)

UNDO_MS = 6000


class BranchActions(QObject):
    """Branch and delete for the open chat of one window.

    ``open_thread`` is called with a new chat's id (the window opens it).
    """

    def __init__(
        self,
        services: Services,
        user_id: int,
        notices: Notices,
        toast: Toast,
        open_thread: Callable[[int], None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._user_id = user_id
        self._notices = notices
        self._toast = toast
        self._open_thread = open_thread
        self._window = parent
        self.deleted: DeletedBranch | None = None
        """The last delete, while Undo is offered for it."""
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.timeout.connect(self.forget)

    def branch(self, message_id: int) -> None:
        """A new chat with the conversation up to ``message_id``, opened."""
        try:
            thread = self._services.branches.branch(self._user_id, message_id)
        except ServiceError as error:
            self._notices.error(f"Could not branch into a new chat: {error}")
            return
        self._open_thread(thread.id)
        self._notices.info(f"Branched into “{thread.title}”")

    def confirm_delete(self, count: int) -> bool:
        """Ask before deleting ``count`` messages (tests replace this method)."""
        below = count - 1
        text = (
            "Delete this message?"
            if not below
            else f"Delete this message and the {below:,} below it (all their versions)?"
        )
        detail = (
            "The runs that answered them go too. You can undo this for a few seconds."
            if count <= UNDO_LIMIT
            else "The runs that answered them go too. This cannot be undone."
        )
        answer = QMessageBox.question(
            self._window,
            "Delete message",
            f"{text}\n\n{detail}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def delete(self, message_id: int) -> None:
        """Delete ``message_id`` and its branch, once the person said yes."""
        try:
            count = self._services.messages.branch_size(self._user_id, message_id)
        except ServiceError as error:
            self._notices.error(str(error))
            return
        if not self.confirm_delete(count):
            return
        try:
            deleted = self._services.messages.delete_branch(self._user_id, message_id)
        except ServiceError as error:
            self._notices.error(f"Could not delete: {error}")
            return
        words = "Message deleted" if count == 1 else f"{count:,} messages deleted"
        if deleted.rows is None:
            self._notices.info(words)
            return
        self.forget()  # a newer delete replaces the Undo offered
        self.deleted = deleted
        self._toast.show_message(words, "Undo", UNDO_MS)
        self._expiry.start(UNDO_MS)

    def undo(self) -> bool:
        """Bring the last deleted branch back; False if there is none to bring back."""
        deleted, self.deleted = self.deleted, None
        if deleted is None:
            return False
        self._expiry.stop()
        self._toast.hide()
        try:
            self._services.messages.restore(deleted)
        except ServiceError as error:
            self._notices.error(f"Could not undo the delete: {error}")
        return True

    def forget(self) -> None:
        """Undo is no longer offered: the files only that branch used go now (if the
        database is busy, the start-up sweep frees them later)."""
        deleted, self.deleted = self.deleted, None
        if deleted is None:
            return
        try:
            self._services.messages.forget(deleted)
        except ServiceError:
            log.warning("could not free the files of a deleted branch", exc_info=True)
