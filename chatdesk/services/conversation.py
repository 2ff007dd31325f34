"""The person's chat commands as use cases: send this text, send it again, answer again.

Why a module of its own: the rules of a send (validate once, open or title the thread,
edit and resend) were spread over the window; here they run the same for the window,
a script or a test, over the thread and message services, each step in its own short
transaction. The window calls one method and follows the change bus for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatdesk.services.attachment_links import check_files_count
from chatdesk.services.messages import MessageService, SendResult, content_with_files
from chatdesk.services.records import AttachmentRecord
from chatdesk.services.threads import DEFAULT_TITLE, ThreadService, title_from_text
from chatdesk.vocabulary import Role


@dataclass
class Outgoing:
    """A message on its way, kept across attempts of one send.

    A busy database makes the caller try the same send again: ``thread_id`` is filled
    in once a new thread exists, so a second attempt never creates a second thread.

    Attributes:
        text: what the person typed (validated and trimmed by the send).
        thread_id: the thread it goes to; None asks for a new thread titled from it.
        edited_id: the message it is a new version of (an edit), else None.
        created_thread: whether this send created ``thread_id``.
        attachments: files added for it (``services.attachments.add``), in order; with
            files the text may be empty. An edit keeps the files of the message edited.
    """

    text: str
    thread_id: int | None = None
    edited_id: int | None = None
    created_thread: bool = False
    attachments: list[AttachmentRecord] = field(default_factory=list)


class ConversationService:
    """Send, retry and regenerate for one acting user per call."""

    def __init__(self, threads: ThreadService, messages: MessageService) -> None:
        self._threads = threads
        self._messages = messages

    @staticmethod
    def check(text: str, files: int = 0) -> str:
        """``text`` as it would be sent with ``files`` files (trimmed);
        ``ValidationError`` says why it cannot."""
        check_files_count(files)
        return content_with_files(text, Role.USER, files > 0)

    def send(self, user_id: int, outgoing: Outgoing, *, crew: str = "assistant") -> SendResult:
        """Send ``outgoing``: into a new thread titled from its first line when it names
        none (of ``crew``), titling a still untitled empty thread the same way.

        Nothing is written when the text is invalid. Each step commits on its own, so a
        failed attempt may leave the new thread behind: ``outgoing`` remembers it.
        """
        files = outgoing.attachments if outgoing.edited_id is None else []
        text = self.check(outgoing.text, len(files))
        title = title_from_text(text or "\n".join(file.file_name for file in files))
        if outgoing.thread_id is None:
            thread = self._threads.create(user_id, title, crew=crew)
            outgoing.thread_id = thread.id
            outgoing.created_thread = True
        elif self._is_untitled_and_empty(user_id, outgoing.thread_id):
            self._threads.rename(user_id, outgoing.thread_id, title)
        if outgoing.edited_id is not None:  # a new version; the old one is kept
            return self._messages.send_version(user_id, outgoing.edited_id, text)
        return self._messages.send(user_id, outgoing.thread_id, text, attachments=files)

    def retry(self, user_id: int, message_id: int) -> SendResult:
        """Send a failed or stopped message again (a new run; the old one kept)."""
        return self._messages.retry(user_id, message_id)

    def regenerate(self, user_id: int, message_id: int) -> SendResult:
        """Ask again for the reply to a message (or answered by a reply), once its run
        ended: a new version of the reply."""
        return self._messages.regenerate(user_id, message_id)

    def _is_untitled_and_empty(self, user_id: int, thread_id: int) -> bool:
        if self._threads.get(user_id, thread_id).title != DEFAULT_TITLE:
            return False
        return not self._messages.list(user_id, thread_id, limit=1).messages
