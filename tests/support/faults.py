"""Real faults for tests: another connection holding the lock, a disk that fills up."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.store.connection import sqlite_path

SMALL_DISK_BYTES = 4 * 1024 * 1024


def sqlite_file(services: Services) -> Path:
    """The database file behind ``services`` (the tests here need SQLite)."""
    path = sqlite_path(services.store.engine.url)
    assert path is not None, "a SQLite store is needed"
    return path


@contextlib.contextmanager
def hold_exclusive_lock(database: Path) -> Iterator[sqlite3.Connection]:
    """A second real connection inside ``BEGIN EXCLUSIVE`` until the block ends."""
    other = sqlite3.connect(database, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield other
        other.execute("ROLLBACK")
    finally:
        other.close()


@dataclass
class SmallDisk:
    """A mounted tmpfs of ``SMALL_DISK_BYTES``; ``fill`` takes every free byte."""

    path: Path

    @property
    def _filler(self) -> Path:
        return self.path / "filler"

    def fill(self) -> None:
        chunk = b"\0" * 65536
        with open(self._filler, "ab", buffering=0) as out:
            try:
                while True:
                    out.write(chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
        with open(self._filler, "ab", buffering=0) as out:  # the last partial chunk
            try:
                while True:
                    out.write(b"\0" * 512)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(mount_point: Path) -> Iterator[SmallDisk]:
    """A real small filesystem, unmounted after the block; skips where none can be mounted."""
    mount_point.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_BYTES},mode=0700", "tmpfs", mount_point],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(mount_point)
    finally:
        subprocess.run(["umount", "--lazy", mount_point], check=False)
