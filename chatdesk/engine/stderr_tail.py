"""A file a child process writes its stderr to, of which only the last lines are kept.

Why not a temporary file: a chatty or hostile MCP server can write without end, and a
file would grow until the disk is full. A pipe drained by a thread that keeps the last
few lines costs a few kilobytes whatever the server does, and still says why a server
would not start ("it said: ...").
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from typing import TextIO

KEPT_LINES = 20
MAX_LINE_CHARS = 2000
READ_BYTES = 65536


class StderrTail:
    """``file`` is what the child gets as stderr; ``last_line()`` what it said last."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_inheritable(write_fd, True)
        self.file: TextIO = os.fdopen(write_fd, "w", encoding="utf-8", errors="replace")
        self._read_fd = read_fd
        self._lines: deque[str] = deque(maxlen=KEPT_LINES)
        self._partial = ""
        self._read = 0  # bytes drained so far
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, name="mcp-stderr", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        try:
            while chunk := os.read(self._read_fd, READ_BYTES):
                text = chunk.decode("utf-8", "replace")
                with self._lock:
                    self._read += len(chunk)
                    *done, self._partial = (self._partial + text).split("\n")
                    self._partial = self._partial[-MAX_LINE_CHARS:]
                    self._lines.extend(line[:MAX_LINE_CHARS] for line in done if line.strip())
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.close(self._read_fd)

    def settle(self, timeout_s: float = 0.3) -> None:
        """Wait (briefly) until what the child wrote has been read: a server that
        printed its reason and exited has it in the tail then."""
        deadline = time.monotonic() + timeout_s
        before = -1
        while time.monotonic() < deadline:
            with self._lock:
                now = self._read
            if now == before:
                return
            before = now
            time.sleep(0.05)

    def last_line(self) -> str:
        with self._lock:
            lines = [*self._lines, *([self._partial] if self._partial.strip() else [])]
        return lines[-1].strip() if lines else ""

    def close(self) -> None:
        """Our end of the pipe; the reader ends once the child's end closes too."""
        with contextlib.suppress(OSError, ValueError):
            self.file.close()
