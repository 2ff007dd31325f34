"""Which chatdesk source files a piece of work runs through, in this (the GUI) thread.

Why: "how many files does a sent message touch" is a refactoring's measure of how
scattered one behaviour is. ``CodePath`` profiles the calling thread with
``sys.setprofile`` and numbers every Python call it sees; a test marks where the path
starts and ends (``mark_emit``: the Qt signal emission now under way, for a slot that
listens to the signal that starts or ends the path; ``mark_now``: this very moment),
and ``files(start, end)`` lists the chatdesk files whose code ran in between.

Only this thread is profiled: the crew worker is another process and background jobs
run on other threads, which is what "in the GUI process's thread" should leave out.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import chatdesk

PACKAGE_ROOT = Path(chatdesk.__file__).resolve().parent


class CodePath:
    """Numbers the calls of the profiled thread and keeps those into chatdesk's files."""

    def __init__(self, root: Path = PACKAGE_ROOT) -> None:
        self._prefix = str(root) + "/"
        self._counter = 0
        self._calls: list[tuple[int, str]] = []  # (call number, file relative to root)
        self._emits: list[int] = []  # call numbers of the Qt emits under way
        self._known: dict[str, str | None] = {}

    @contextmanager
    def recording(self) -> Iterator[CodePath]:
        previous = sys.getprofile()
        sys.setprofile(self._on_event)
        try:
            yield self
        finally:
            sys.setprofile(previous)

    def _on_event(self, frame: FrameType, event: str, arg: Any) -> None:
        self._counter += 1
        if event == "call":
            name = frame.f_code.co_filename
            relative = self._known.get(name, "")
            if relative == "":
                relative = name[len(self._prefix) :] if name.startswith(self._prefix) else None
                self._known[name] = relative
            if relative is not None:
                self._calls.append((self._counter, relative))
        elif event.startswith("c_") and getattr(arg, "__name__", "") == "emit":
            # (only C functions are asked their name: a Python object's __getattr__
            # may do anything)
            if event == "c_call":
                self._emits.append(self._counter)
            elif self._emits:
                self._emits.pop()

    def mark_now(self) -> int:
        """The current call number."""
        return self._counter

    def mark_emit(self) -> int:
        """The call number of the innermost signal emission under way (for a slot: the
        emission that called it; earlier receivers of that signal come after it)."""
        return self._emits[-1] if self._emits else self._counter

    def files(self, start: int, end: int) -> list[str]:
        """The chatdesk files (relative to the package) entered between two marks."""
        return sorted({path for number, path in self._calls if start <= number <= end})
