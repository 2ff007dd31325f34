"""The shape every reader yields: a conversation as a tree of plain messages.

A reader maps what it can onto these fields and says what it cannot in ``notes`` (shown
on the message or the chat), so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any, Protocol

from chatdesk.vocabulary import Role


class Source(StrEnum):
    """The app a file came from (detected, or picked by the person)."""

    CHATDESK = "chatdesk"
    CHATDESK_ARCHIVE = "chatdesk-archive"
    CHATGPT = "chatgpt"
    CLAUDE = "claude"
    OPEN_WEBUI = "open-webui"
    LIBRECHAT = "librechat"


SOURCE_NAMES = {
    Source.CHATDESK: "chatdesk",
    Source.CHATDESK_ARCHIVE: "chatdesk archive",
    Source.CHATGPT: "ChatGPT",
    Source.CLAUDE: "Claude",
    Source.OPEN_WEBUI: "Open WebUI",
    Source.LIBRECHAT: "LibreChat",
}


class FormatError(Exception):
    """A file a reader cannot read; ``place`` says where (``conversations[3].mapping``)."""

    def __init__(self, place: str, reason: str) -> None:
        super().__init__(f"{place}: {reason}" if place else reason)
        self.place = place
        self.reason = reason


@dataclass(frozen=True)
class ForeignMessage:
    """One message of a conversation, as the other app kept it.

    ``ref`` is its id in the file (unique in its chat); ``parent`` the ref of the message
    it answers or follows (None: a root). Siblings are versions, as in chatdesk.
    ``notes`` say what could not be kept (an attachment not in the export, an image, a
    canvas): they are shown under the message. ``extra`` keeps small source facts as
    message metadata (e.g. ``{"source_role": "tool", "tool": "python"}``).
    """

    ref: str
    parent: str | None
    role: Role
    content: str
    created_at: datetime | None = None
    model: str | None = None
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ForeignChat:
    """One conversation: its messages parents-first, the path shown ending at
    ``current_leaf`` (a ref; None: follow the newest version at each branch)."""

    source: Source
    source_id: str | None
    """The conversation's id in the other app (None when it has none): re-importing
    the same conversation is recognised by it."""
    title: str
    messages: list[ForeignMessage]
    current_leaf: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    model: str | None = None
    system_prompt: str | None = None
    notes: tuple[str, ...] = ()


Step = Callable[[int], None]
"""Called between conversations with the bytes read so far (progress; may raise to
cancel)."""


class Reader(Protocol):
    def __call__(self, source: IO[bytes], step: Step) -> Iterator[ForeignChat]: ...
