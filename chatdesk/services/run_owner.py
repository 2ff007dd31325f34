"""Who runs an execution: the identity of one client process, and whether it is gone.

Several clients may share one database, so every run records its owner. The owner id
is ``host|boot id|pid|process start time|random token`` (the host with its pid
namespace, so containers sharing a kernel are not confused): the pid alone could be
recycled by a new, unrelated process, so a run is only judged orphaned on this host
when its pid is gone, or the process now holding that pid started at another time, or
the machine has rebooted since (another boot id). Owners on other hosts (or where the
process cannot be examined) are judged by their lease alone.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SEPARATOR = "|"
MAX_OWNER_LENGTH = 300
"""Fits ``executions.owner``; a longer host name is cut, the rest always fits."""


@dataclass(frozen=True)
class RunOwner:
    """One client process, as written into ``executions.owner``."""

    host: str
    boot_id: str
    pid: int
    started: str
    token: str

    def __str__(self) -> str:
        tail = SEPARATOR.join((self.boot_id, str(self.pid), self.started, self.token))
        room = MAX_OWNER_LENGTH - len(tail) - 1
        return f"{self.host[:room]}{SEPARATOR}{tail}"

    @staticmethod
    def parse(text: str) -> RunOwner | None:
        """The owner written as ``text``, or None when it is not one (an older client)."""
        parts = text.rsplit(SEPARATOR, 4)
        if len(parts) != 5 or not (parts[2].isascii() and parts[2].isdigit()):
            return None
        host, boot_id, pid, started, token = parts
        return RunOwner(host, boot_id, int(pid), started, token)

    def is_gone(self) -> bool:
        """True only when this owner is provably not running any more.

        Provable on this host only: the machine rebooted, the pid is free, or the pid
        now belongs to a process that started at another time.
        """
        here = this_process()
        if self.host != here.host:
            return False  # another machine: its lease decides
        if self.boot_id != here.boot_id:
            return bool(self.boot_id and here.boot_id)  # this machine rebooted since
        if self.pid == here.pid:
            return self.started != here.started  # a recycled pid, or this very process
        started = _process_start(self.pid) if self.started else None
        if started is None:
            return not _pid_exists(self.pid)
        return started != self.started


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of the whole line


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid)
        return False
    except PermissionError:
        return True
    return True


def _host() -> str:
    """This machine, and on Linux its pid namespace: pids in another container are
    another host's, which only their lease can speak for."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}#{namespace}"


_current: dict[int, RunOwner] = {}


def this_process() -> RunOwner:
    """The owner id of the calling process (a fresh one in a forked child)."""
    pid = os.getpid()
    owner = _current.get(pid)
    if owner is None:
        owner = RunOwner(
            host=_host(),
            boot_id=_boot_id(),
            pid=pid,
            started=_process_start(pid) or "",
            token=secrets.token_hex(8),
        )
        _current.clear()
        _current[pid] = owner
    return owner
