"""Every process a test starts dies with the test, whatever happens to the test.

Two guards, because either alone leaves orphans:

- ``die_with_parent`` asks Linux (``PR_SET_PDEATHSIG``) to kill a child the moment the
  process that started it dies, even by SIGKILL (pytest killed by CI, a timeout, a
  person's kill -9), when no ``finally`` runs.
- ``stray_processes`` lists what a test left running among pytest's descendants; the
  autouse fixture in ``tests/conftest.py`` kills those and fails the test that left them.
  Long-lived session processes (the PostgreSQL server) are declared with
  ``keep_for_session`` and left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

_session_pids: set[int] = set()


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child killed with ``sig`` when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:  # runs in the child, between fork and exec
        prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)

    return preexec


def keep_for_session(pid: int) -> None:
    """``pid`` (and what it starts) outlives single tests on purpose."""
    _session_pids.add(pid)


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":  # a zombie is already dead: only unreaped
                parents[int(entry.name)] = int(fields[1])
    return parents


def live_descendants(root: int | None = None) -> set[int]:
    """The live processes below ``root`` (pytest by default), session ones excluded.

    Crew workers started by pytest itself are session ones too: the worker clients of
    ``tests/engine`` and of the ``chatdesk.testing`` plugin live for the session and
    restart their worker when a test kills it. They exit when pytest does (their stdin
    closes). A worker of an app a test started is its grandchild and still counts.
    """
    if not Path("/proc/self/stat").exists():
        return set()
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    top = os.getpid() if root is None else root
    todo = [top]
    while todo:
        parent = todo.pop()
        for child in children.get(parent, []):
            if parent == top and _is_crew_worker(child):
                continue
            if child not in found and child not in _session_pids:
                found.add(child)
                todo.append(child)
    return found


def _is_crew_worker(pid: int) -> bool:
    try:
        return b"chatdesk.engine.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def describe(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return str(pid)
    words = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    return f"{pid} {' '.join(words)[:120]}"


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
