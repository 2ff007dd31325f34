"""The text of attached documents, extracted once per content and kept in the data dir.

Attaching a PDF extracts its text in the background (the chip shows the progress); the
run that later tells the model about it must not read a 50 MB PDF again. So the
``Document`` is kept per SHA-256 under ``<data dir>/document-texts/<ab>/<sha256>.json``
(0600, written whole or not at all), beside the attached files it comes from. What is
kept is the content's text, not its name: the same file attached as ``a.pdf`` and
``b.pdf`` is read once and each use carries its own name.

A refusal that comes from the content (damaged, encrypted, no text, too big) is kept
too, so a scanned 50 MB PDF is not read again on every run; one that depends on the
moment (cancelled, missing, unreadable) is not. A cache file that cannot be read or
parsed is simply extracted again and overwritten: it is a cache, never the truth.
Two callers asking for the same content at once (the attach task and a run started
meanwhile) take turns: the second finds the first one's result.

``sweep`` removes the texts of files no longer stored, so a document freed with its
last message does not linger as text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any, TextIO

from chatdesk.private_files import write_atomically
from chatdesk.services.documents.extract import extract
from chatdesk.services.documents.model import Document, DocumentError, Kind, Part, Problem
from chatdesk.services.documents.reading import ProgressCallback, StopCheck

log = logging.getLogger(__name__)

FORMAT = 1
"""The cache file's layout; a file of another version is extracted again."""
DIR_NAME = "document-texts"
TRANSIENT = frozenset({Problem.CANCELLED, Problem.MISSING, Problem.UNREADABLE})
"""Refusals that say nothing about the content: never kept."""
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DocumentTexts:
    """Extracted documents by content hash, under ``root``.

    Attributes:
        extractions: how many times this object extracted a file (a cache miss).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.extractions = 0
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def path(self, sha256: str) -> Path:
        """Where the text of ``sha256`` is kept (a hex digest only: no path tricks)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}.json"

    def document(
        self,
        sha256: str,
        source: Path,
        kind: Kind | str,
        name: str,
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> Document:
        """The text of the stored file ``source`` (content ``sha256``), named ``name``:
        from the cache, or extracted now and kept. Raises ``DocumentError``.

        Blocking (a big PDF takes seconds): call it off the GUI thread.
        """
        with self._lock_for(sha256):
            cached = self.cached(sha256, name)
            if cached is not None:
                return _or_raise(cached)
            self.extractions += 1
            try:
                document = extract(
                    source, kind, on_progress=on_progress, should_stop=should_stop, name=name
                )
            except DocumentError as error:
                if error.problem not in TRANSIENT:
                    self._keep(sha256, _error_json(error, name))
                raise
            self._keep(sha256, _document_json(document))
            return document

    def cached(self, sha256: str, name: str) -> Document | DocumentError | None:
        """What is kept for ``sha256`` (a document or the refusal), named ``name``;
        None when nothing usable is kept."""
        path = self.path(sha256)
        try:
            with path.open(encoding="utf-8") as source:
                data = json.load(source)
            return _from_json(data, name)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as error:
            log.warning("document text %s is unusable (%s); reading the file again", path, error)
            return None

    def sweep(self, stored: Collection[str]) -> int:
        """Remove the texts whose file is not among ``stored`` (digests); how many went."""
        keep = set(stored)
        removed = 0
        if not self.root.is_dir():
            return 0
        for fan in os.scandir(self.root):
            if len(fan.name) != 2 or not fan.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(fan.path):
                digest = entry.name.removesuffix(".json")
                if entry.name.startswith(".") or digest in keep:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
        return removed

    def _lock_for(self, sha256: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha256, threading.Lock())

    def _keep(self, sha256: str, data: dict[str, Any]) -> None:
        """Write the cache file whole (0600); a write that fails only costs a re-read."""
        path = self.path(sha256)

        def write(out: TextIO) -> None:
            json.dump(data, out, ensure_ascii=False, separators=(",", ":"))

        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomically(path, write, mode=0o600)
        except OSError:
            log.warning("could not keep the text of %s", path, exc_info=True)


def _or_raise(found: Document | DocumentError) -> Document:
    if isinstance(found, DocumentError):
        raise found
    return found


def _document_json(document: Document) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "kind": document.kind.value,
        "places": document.places,
        "skipped": list(document.skipped),
        "parts": [[part.number, part.text, part.heading] for part in document.parts],
    }


def _error_json(error: DocumentError, name: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "error": {"problem": error.problem.value, "message": error.message, "name": name},
    }


def _from_json(data: Any, name: str) -> Document | DocumentError:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("another format")
    if "error" in data:
        error = data["error"]
        message = str(error["message"]).replace(str(error["name"]), name)
        return DocumentError(Problem(error["problem"]), message)
    parts = tuple(
        Part(int(number), str(text), str(heading)) for number, text, heading in data["parts"]
    )
    skipped = tuple(int(page) for page in data["skipped"])
    return Document(name, Kind(data["kind"]), parts, int(data["places"]), skipped)
