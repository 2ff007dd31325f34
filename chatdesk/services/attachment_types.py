"""What an attached file is, told from its bytes, and the limits a file must keep.

A name can lie ("invoice.pdf" holding a script), so the type comes from the content:
magic numbers for PNG, JPEG, GIF, WebP and PDF, a zip holding ``word/document.xml`` for
DOCX, and for text valid UTF-8 without NULs. The name only labels a text file
(Markdown, CSV, code). Each kind is then opened the way its reader will open it, so a
file the app could not use later is refused now, with a sentence saying why: an image
is read to its header (Pillow reads no pixels there) and refused past
``MAX_IMAGE_PIXELS`` (a decompression bomb), a PDF is opened by pypdf and refused when
it needs a password or cannot be parsed. The limits live here, once.
"""

from __future__ import annotations

import codecs
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from PIL import Image

from chatdesk.services.errors import ValidationError
from chatdesk.vocabulary import AttachmentKind

MAX_IMAGE_BYTES = 20_000_000
MAX_DOCUMENT_BYTES = 50_000_000
"""PDFs, Word documents and text files."""
MAX_FILE_BYTES = max(MAX_IMAGE_BYTES, MAX_DOCUMENT_BYTES)
"""What a copy may read before the type is known."""
MAX_FILES_PER_MESSAGE = 10
MAX_IMAGE_PIXELS = 50_000_000
"""An image declaring more pixels than this (width × height) is refused unread."""
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow's own guard, for every later open too

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_IMAGES = (  # magic, Pillow's format, MIME type
    (b"\x89PNG\r\n\x1a\n", "PNG", "image/png"),
    (b"\xff\xd8\xff", "JPEG", "image/jpeg"),
    (b"GIF87a", "GIF", "image/gif"),
    (b"GIF89a", "GIF", "image/gif"),
)
_TEXT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".xml": "application/xml",
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".ts": "text/x-typescript",
    ".py": "text/x-python",
    ".sh": "text/x-shellscript",
    ".c": "text/x-c",
    ".h": "text/x-c",
    ".cpp": "text/x-c++",
    ".java": "text/x-java",
    ".go": "text/x-go",
    ".rs": "text/x-rust",
    ".rb": "text/x-ruby",
    ".sql": "application/sql",
}
_CHUNK = 1 << 20


def megabytes(size: int) -> str:
    """A size as people read it in a limit ("20 MB")."""
    return f"{size / 1_000_000:,.0f} MB" if size >= 1_000_000 else f"{size:,} bytes"


@dataclass(frozen=True)
class FileType:
    """What a file is, for the ``attachments`` row."""

    kind: AttachmentKind
    mime_type: str
    width: int | None = None
    height: int | None = None


def identify(path: Path, name: str, size: int) -> FileType:
    """The type of the copy at ``path`` (``name``: what the person called it); a
    ``ValidationError`` names the file and why it cannot be attached."""
    label = f"“{name}”"
    with path.open("rb") as file:
        head = file.read(4096)
    found = _identify(path, head, name)
    limit = MAX_IMAGE_BYTES if found.kind is AttachmentKind.IMAGE else MAX_DOCUMENT_BYTES
    if size > limit:
        what = "an image" if found.kind is AttachmentKind.IMAGE else "a document"
        raise ValidationError(f"{label} is larger than {megabytes(limit)}, the most {what} can be.")
    return found


TEXT_MIME_TYPES = frozenset({*_TEXT_TYPES.values(), "text/plain"})


def as_declared(found: FileType, kind: str, mime_type: str, label: str) -> FileType:
    """``found`` (what the bytes are) if a file from elsewhere declared it truly as
    ``kind`` and ``mime_type``; a text file keeps its declared text type (the name it
    was told by is not at hand)."""
    if kind != found.kind.value:
        raise ValidationError(
            f"{label} is said to be {kind!r} but its bytes are {found.kind.value!r}."
        )
    if found.kind is AttachmentKind.TEXT and mime_type in TEXT_MIME_TYPES:
        return FileType(found.kind, mime_type)
    if mime_type != found.mime_type:
        raise ValidationError(
            f"{label} is said to be {mime_type[:80]!r} but its bytes are {found.mime_type!r}."
        )
    return found


def _identify(path: Path, head: bytes, name: str) -> FileType:
    label = f"“{name}”"
    for magic, image_format, mime in _IMAGES:
        if head.startswith(magic):
            return _image(path, label, image_format, mime)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _image(path, label, "WEBP", "image/webp")
    if b"%PDF-" in head[:1024]:
        return _pdf(path, label)
    if head.startswith(b"PK\x03\x04"):
        return _docx(path, label)
    return _text(path, label, PurePath(name).suffix.lower())


def _image(path: Path, label: str, image_format: str, mime: str) -> FileType:
    try:
        with warnings.catch_warnings():  # past MAX_IMAGE_PIXELS Pillow only warns
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[image_format]) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                image.verify()  # reads the structure (PNG: every chunk's checksum)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            f"{label} is too large an image (more than {MAX_IMAGE_PIXELS // 1_000_000} "
            "megapixels); scale it down and attach it again."
        ) from None
    except Exception:  # any parser error on a hostile file: Pillow raises many kinds
        raise ValidationError(
            f"{label} looks like a {image_format} image but cannot be read; it may be damaged."
        ) from None
    return FileType(AttachmentKind.IMAGE, mime, width, height)


def _pdf(path: Path, label: str) -> FileType:
    from pypdf import PasswordType, PdfReader  # ~60 ms: only when a PDF is attached

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ValidationError(
                f"{label} is protected by a password; save a copy without it and attach that."
            )
        pages = len(reader.pages)
    except ValidationError:
        raise
    except Exception:  # pypdf raises many kinds on a damaged or hostile file
        raise ValidationError(f"{label} cannot be opened as a PDF; it may be damaged.") from None
    if pages == 0:
        raise ValidationError(f"{label} is a PDF without pages; there is nothing to read.")
    return FileType(AttachmentKind.PDF, "application/pdf")


def _docx(path: Path, label: str) -> FileType:
    try:
        with zipfile.ZipFile(path) as archive:  # reads the directory only, inflates nothing
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(
            f"{label} looks like a Word document but cannot be read; it may be damaged."
        ) from None
    if "word/document.xml" not in names:
        raise ValidationError(
            f"{label} is a zip archive, not a Word document; chatdesk attaches images, PDFs, "
            "Word documents and text files."
        )
    return FileType(AttachmentKind.DOCX, DOCX_MIME)


def _text(path: Path, label: str, suffix: str) -> FileType:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                if b"\x00" in chunk:
                    raise UnicodeDecodeError("utf-8", chunk, chunk.index(b"\x00"), 1, "NUL")
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ValidationError(
            f"{label} is not a type chatdesk can attach: it attaches images (PNG, JPEG, GIF, "
            "WebP), PDFs, Word documents (.docx) and text files in UTF-8."
        ) from None
    return FileType(AttachmentKind.TEXT, _TEXT_TYPES.get(suffix, "text/plain"))
