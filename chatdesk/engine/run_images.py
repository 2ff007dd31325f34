"""The question's images, as the model of one run takes them (worker only).

Why here and not in the prompt text: a vision model needs the bytes, as OpenAI-style
content parts (``{"type": "image_url", "image_url": {"url": "data:<mime>;base64,..."}}``)
in the user turn. CrewAI builds that turn itself, so the parts are added by a
``before_llm_call`` (PRE_MODEL_CALL) hook that changes the executor's messages in place.
CrewAI's providers then carry them on: OpenAI-compatible servers (OpenAI, LM Studio,
Ollama, vLLM, llama.cpp) take them as they are; Anthropic converts ``image_url`` data
URIs itself (``AnthropicCompletion._convert_image_blocks``); Gemini does *not*: its
formatter keeps only ``text``, ``inlineData`` and ``fileData`` items and silently drops
an ``image_url`` one, so a Gemini model gets its own ``inlineData`` parts from here.

Which calls carry them: every model call of every agent/task of the run. The hook adds
the parts once to the first user turn of each executor, and CrewAI keeps that list for
the executor's later calls (after a tool call, say). Models keep no state between calls,
so an agent whose second call lost the image would answer about a picture it no longer
sees; the cost is bounded by the agent's ``max_iter``.

Which files: only those the request names, read only here at run time, each refused past
``RunImages.max_bytes`` (the attach limit, enforced again) or when its bytes are not the
image type it was stored as. A model that cannot see images (``supports_multimodal()``
unless the person said otherwise) reads none of them: it gets a line in the prompt
naming them instead, and the run's ``attachments_sent`` step says so (the GUI puts a
note under the reply), so an image is never dropped without a word.

Earlier messages' images are not resent (their bytes would be paid for on every turn):
the GUI names them in the history text (``chatdesk.runs.run_files``).
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chatdesk.engine.errors import Failure, exception_chain
from chatdesk.engine.protocol import ErrorKind, ImageFile, RunImages

SENT_AS_PARTS = "image parts"
SENT_AS_NOTE = "note"
REFUSED_STATUSES = frozenset({400, 413, 415, 422})
"""HTTP answers that mean "not this request" (a model without vision, a format it does
not take, a payload too large), as opposed to an unknown model (404)."""
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


class ImageError(Exception):
    """An attached image cannot be sent; the message is the sentence for the person."""

    def failure(self) -> Failure:
        return Failure(ErrorKind.ATTACHMENT, str(self), f"ImageError: {self}")


@dataclass(frozen=True)
class _Loaded:
    image: ImageFile
    data_uri: str


def names_text(names: list[str]) -> str:
    """``a.png``, ``a.png and b.png``, ``a.png, b.png and c.png``."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def model_sees_images(vision: str, llm: Any) -> bool:
    """The person's choice, else what CrewAI says of the model (False when it cannot say)."""
    if vision != "auto":
        return vision == "images"
    try:
        return bool(llm.supports_multimodal())
    except Exception:
        return False


class PreparedImages:
    """What one run sends of its images: parts for a vision model, else a note."""

    def __init__(self, images: RunImages, sees: bool, loaded: list[_Loaded]) -> None:
        self.images = images
        self.sees = sees
        self._loaded = loaded

    @classmethod
    def prepare(cls, images: RunImages, llm: Any) -> PreparedImages:
        """Decide and, for a model that sees, read every file (an :class:`ImageError`
        names the first that cannot be sent)."""
        sees = bool(images.files) and model_sees_images(images.vision, llm)
        loaded = [_load(image, images.max_bytes) for image in images.files] if sees else []
        return cls(images, sees, loaded)

    @property
    def sent_as(self) -> str:
        return SENT_AS_PARTS if self.sees else SENT_AS_NOTE

    def prompt_note(self) -> str:
        """The line a model without vision reads instead of the images ("" with none)."""
        if self.sees or not self.images.files:
            return ""
        names = [image.name for image in self.images.files]
        kind = "image" if len(names) == 1 else "images"
        return f"The person attached {names_text(names)} ({kind}); this model cannot see images."

    def step_detail(self) -> dict[str, Any]:
        """The ``attachments_sent`` step: what the model got."""
        return {
            "images": [
                {"name": image.name, "mime": image.mime_type, "bytes": image.size_bytes}
                for image in self.images.files
            ],
            "sent_as": self.sent_as,
        }

    def add_to(self, messages: list[Any], llm: Any) -> None:
        """Give the first user turn of ``messages`` the image parts, unless it has them
        (the hook runs before every call; the executor keeps its list between calls)."""
        if not self._loaded:
            return
        for index, message in enumerate(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, list):
                    if _holds_parts(content):
                        return
                    parts = list(content)
                else:
                    parts = [{"type": "text", "text": str(content or "")}]
                gemini = _is_gemini(llm)
                parts.extend(_part(loaded, gemini) for loaded in self._loaded)
                messages[index] = {**message, "content": parts}
                return

    def explain(self, exc: BaseException, failure: Failure) -> Failure:
        """A refusal of a request that carried images, said as the image problem it is."""
        if not self._loaded:
            return failure
        codes = {getattr(e, "status_code", None) for e in exception_chain(exc)}
        if not codes & REFUSED_STATUSES:
            return failure
        names = [loaded.image.name for loaded in self._loaded]
        kinds = sorted({loaded.image.mime_type.split("/")[1].upper() for loaded in self._loaded})
        message = (
            f"The model server refused the request with the attached image"
            f"{'s' if len(names) > 1 else ''} {names_text(names)} ({', '.join(kinds)}): "
            "this model may not take images, or not in this format. Use a model that sees "
            "images, or set this one to “text only” in Settings. "
            f"({failure.message.rstrip('.')}.)"
        )
        return Failure(ErrorKind.ATTACHMENT, message, failure.detail)


def _load(image: ImageFile, max_bytes: int) -> _Loaded:
    label = f"“{image.name}”"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(image.path, flags)  # a link or a pipe in its place never blocks
    except FileNotFoundError:
        raise ImageError(
            f"The attached image {label} is no longer in chatdesk's data folder, so it "
            "cannot be sent; attach it again."
        ) from None
    except OSError as error:
        raise ImageError(
            f"The attached image {label} cannot be read ({error.strerror or error})."
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"The attached image {label} is not a regular file any more.")
        if info.st_size > max_bytes:
            raise ImageError(
                f"The attached image {label} is larger than {_size_text(max_bytes)}, "
                "the most an image can be."
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ImageError(f"The attached image {label} grew past the limit while it was read.")
    if not _is_type(data, image.mime_type):
        raise ImageError(
            f"The attached image {label} is no longer the {image.mime_type} it was stored as."
        )
    encoded = base64.b64encode(data).decode("ascii")
    return _Loaded(image, f"data:{image.mime_type};base64,{encoded}")


def _size_text(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB" if size >= 1_000_000 else f"{size:,} bytes"


def _is_type(data: bytes, mime: str) -> bool:
    if mime == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(_MAGIC.get(mime, (b"\x00\x00never",)))


def _part(loaded: _Loaded, gemini: bool) -> dict[str, Any]:
    if gemini:
        _, data = loaded.data_uri.split(",", 1)
        return {"inlineData": {"mimeType": loaded.image.mime_type, "data": data}}
    return {"type": "image_url", "image_url": {"url": loaded.data_uri}}


def _holds_parts(content: Iterable[Any]) -> bool:
    return any(
        isinstance(item, dict) and (item.get("type") == "image_url" or "inlineData" in item)
        for item in content
    )


def _is_gemini(llm: Any) -> bool:
    """Gemini's provider drops ``image_url`` items (see the module docstring)."""
    return any(cls.__name__ == "GeminiCompletion" for cls in type(llm).__mro__)
