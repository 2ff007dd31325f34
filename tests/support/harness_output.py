"""Reading a real app process's stdout (``tests.support.app_harness``) line by line."""

from __future__ import annotations

import queue
import subprocess
import threading
import time


class HarnessOutput:
    """The harness's stdout lines, read by a thread so the test can wait for one."""

    def __init__(self, child: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._seen: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(child,), daemon=True)
        self._reader.start()

    def _read(self, child: subprocess.Popen[str]) -> None:
        assert child.stdout is not None
        with child.stdout:
            for line in child.stdout:
                self._lines.put(line.strip())
        self._lines.put("")  # end of output

    def wait_for(self, word: str, timeout_s: float) -> str:
        """Until a line starting with ``word`` is printed: that line ("" when the output
        ended or the time ran out first)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self._seen.append(line)
            if line.startswith(word) or not line:
                return line
        return ""

    def all_lines(self) -> list[str]:
        """Every line, once the child has exited."""
        self._reader.join(timeout=10)
        while not self._lines.empty():
            self._seen.append(self._lines.get_nowait())
        return self._seen
