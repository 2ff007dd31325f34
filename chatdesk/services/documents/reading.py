"""What every reader shares: opening the file, progress, Cancel and the size limits.

Extraction runs on a worker thread; ``Reading`` is the only thing it reports through
(``on_progress(done, total)``) and the only place it learns of Cancel, checked between
pages or blocks, so a stop costs at most one page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from chatdesk.services.documents.model import MAX_CHARS, DocumentError, Problem

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]


class Reading:
    """One extraction's progress, Cancel and running total of characters."""

    def __init__(
        self, name: str, on_progress: ProgressCallback | None, should_stop: StopCheck | None
    ) -> None:
        self.name = name
        self.chars = 0
        self._on_progress = on_progress
        self._should_stop = should_stop

    def step(self, done: int, total: int) -> None:
        """Report progress, then stop here if Cancel was asked for."""
        if self._on_progress is not None:
            self._on_progress(done, total)
        self.check()

    def check(self) -> None:
        if self._should_stop is not None and self._should_stop():
            raise DocumentError(Problem.CANCELLED, f"Reading {self.name} was cancelled.")

    def add(self, text: str) -> str:
        """Count ``text`` against MAX_CHARS; past it the document is refused."""
        self.chars += len(text)
        if self.chars > MAX_CHARS:
            raise DocumentError(
                Problem.TOO_BIG,
                f"{self.name} has more than {MAX_CHARS:,} characters of text, more than "
                "chatdesk reads from one file; attach the part you need.",
            )
        return text

    def damaged(self, what: str) -> DocumentError:
        return DocumentError(
            Problem.DAMAGED,
            f"{self.name} is damaged or incomplete ({what}); open it in its own program and "
            "save it again, or attach another copy.",
        )


def open_binary(path: Path) -> BinaryIO:
    """The file opened for reading, or the reason it cannot be, in words.

    A 0-byte file is refused here: it is almost always a download or copy that failed.
    """
    name = path.name
    try:
        source = path.open("rb")
    except FileNotFoundError:
        raise DocumentError(
            Problem.MISSING, f"{name} is no longer at {path.parent}; attach it again."
        ) from None
    except IsADirectoryError:
        raise DocumentError(Problem.UNREADABLE, f"{name} is a folder, not a file.") from None
    except PermissionError:
        raise DocumentError(
            Problem.UNREADABLE,
            f"chatdesk is not allowed to read {name}; check the file's permissions.",
        ) from None
    except OSError as error:
        raise DocumentError(
            Problem.UNREADABLE, f"{name} could not be read ({error.strerror or error})."
        ) from None
    if os.fstat(source.fileno()).st_size == 0:
        source.close()
        raise DocumentError(
            Problem.EMPTY, f"{name} is empty (0 bytes); attach the file again once it is saved."
        )
    return source
