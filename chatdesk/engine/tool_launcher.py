"""``python -m chatdesk.engine.tool_launcher PARENT_PID -- COMMAND [ARGS...]``.

Why: the worker starts MCP servers (through the SDK, each in a session of its own)
and may itself be killed outright (the GUI quits, crashes, or ends a hung worker).
A server started directly would then live on, orphaned. This launcher runs the
server as its child, in its own process group, and ends that group when the worker
dies (Linux ``PR_SET_PDEATHSIG``), when it is told to stop (SIGTERM/SIGHUP), or when
the server exits. Standard streams pass straight through: the launcher never reads
the MCP stream.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before the line above took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: tool_launcher PARENT_PID -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    _die_with(int(argv[0]))
    try:
        child = subprocess.Popen(argv[2:])  # inherits stdin/stdout/stderr
    except OSError as exc:
        print(f"cannot start {argv[2]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 127

    def end_group(signum: int, frame: FrameType | None) -> None:
        # The SDK puts this launcher at the head of a new session: its group holds the
        # server and anything the server started.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, end_group)
    code = child.wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
