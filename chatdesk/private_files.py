"""Everything chatdesk or CrewAI writes under the data directory is the owner's only.

New files: every chatdesk process (the app and its crew worker) runs with umask 077,
so whatever it or a library creates (``ui.ini``, lock files, CrewAI's storage) is
0600/0700 from birth. Files an older chatdesk left 0644/0755 are tightened once at
start-up by ``make_tree_private``; a file or folder the person made read-only is left
as it is (start-up refuses such a data directory with a message instead).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from chatdesk.config import PRIVATE_UMASK, make_private


def restrict_new_files() -> None:
    """From now on this process (and the processes it starts) create private files."""
    os.umask(PRIVATE_UMASK)


def make_tree_private(directory: Path) -> None:
    """Take group and other permissions off ``directory`` and everything under it.

    Symbolic links are neither followed nor changed (``os.walk`` does not enter them).
    """
    for root, _dirs, files in os.walk(directory):
        here = Path(root)
        make_private(here)
        for name in files:
            path = here / name
            if not path.is_symlink():
                make_private(path)


def write_atomically(
    path: Path, write: Callable[[TextIO], None], *, mode: int | None = None
) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, fsync, rename.

    A crash, a full disk or an exception in ``write`` leaves the old file as it was and
    no temporary file behind. ``mode`` (e.g. 0o600) is set before anything is written.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a power cut
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
