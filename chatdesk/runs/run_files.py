"""The attached files a run takes along: the question's images, and the names of earlier ones.

Why a module of its own: the coordinator only asks "what goes with this run"; the
choices live here. The question's images travel to the worker as paths to their stored
copies (with type, name and size), never as bytes: the worker reads them itself, at run
time, and only those named (``chatdesk.engine.run_images``). Whether the model sees
them is the person's setting for the model in Settings (``model/vision``: auto, sees
images, text only) when the run uses that model, else ``auto`` (CrewAI decides).

Images of earlier messages are *not* sent again: each turn would pay for their bytes
once more, and the model answered about them when they were asked about. The history
text names them instead ("[The person attached: photo.png (image, not shown again)]"),
so the model knows they were there. Documents are left to the documents' own context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chatdesk.engine.protocol import (
    MAX_IMAGE_NAME_CHARS,
    MAX_RUN_IMAGES,
    ChatMessage,
    ImageFile,
    RunImages,
    StepEvent,
)
from chatdesk.preferences import VISION_CHOICES
from chatdesk.services import Services
from chatdesk.services.attachment_types import MAX_IMAGE_BYTES
from chatdesk.services.executions import RunStart
from chatdesk.services.records import AttachmentRecord, MessageRecord
from chatdesk.vocabulary import AttachmentKind, Role

SettingsReader = Callable[[], Mapping[str, Any]]
Files = Mapping[int, Sequence[AttachmentRecord]]


def files_of(services: Services, user_id: int, start: RunStart) -> Files:
    """The attachments of the question and of its history, read at once."""
    ids = [start.trigger.id, *(m.id for m in start.history)]
    return services.attachments.for_messages(user_id, ids)


def images_for(
    services: Services, files: Files, start: RunStart, model: str, settings: Mapping[str, Any]
) -> RunImages:
    """The question's images for the worker, and how the model takes them."""
    images = tuple(
        ImageFile(
            path=str(services.attachments.stored_path(record)),
            mime_type=record.mime_type,
            name=shown_name(record.file_name),
            size_bytes=record.size_bytes,
        )
        for record in files.get(start.trigger.id, ())
        if record.kind is AttachmentKind.IMAGE
    )[:MAX_RUN_IMAGES]
    return RunImages(files=images, vision=vision_for(model, settings), max_bytes=MAX_IMAGE_BYTES)


def vision_for(model: str, settings: Mapping[str, Any]) -> str:
    """The person's vision setting when ``model`` is the one in Settings, else ``auto``."""
    vision = str(settings.get("vision") or "auto")
    if vision not in VISION_CHOICES or model != str(settings.get("model") or "").strip():
        return "auto"
    return vision


def history_for(history: Sequence[MessageRecord], files: Files) -> tuple[ChatMessage, ...]:
    """The history the model reads, each earlier message naming the images it had."""
    out = []
    for m in history:
        if m.role not in (Role.USER, Role.ASSISTANT):
            continue
        names = [
            shown_name(r.file_name) for r in files.get(m.id, ()) if r.kind is AttachmentKind.IMAGE
        ]
        content = m.content
        if names:
            what = "image" if len(names) == 1 else "images"
            line = f"[The person attached: {', '.join(names)} ({what}, not shown again)]"
            content = f"{content}\n{line}" if content else line
        if content:
            out.append(ChatMessage(role=m.role.value, content=content))  # type: ignore[arg-type]
    return tuple(out)


def shown_name(name: str) -> str:
    """A file name as the model reads it: one line, within the protocol's length."""
    line = "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in name).strip()
    return (line or "image")[:MAX_IMAGE_NAME_CHARS]


def note_of(event: StepEvent) -> str | None:
    """The note under the reply for an ``attachments_sent`` step that sent a note."""
    if event.event != "attachments_sent" or event.detail.get("sent_as") != "note":
        return None
    images = event.detail.get("images")
    listed_images = images if isinstance(images, list) else []
    names = [str(image.get("name")) for image in listed_images if isinstance(image, dict)]
    if not names:
        return None
    listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"This model cannot see images: it was told only the names of {listed}."
