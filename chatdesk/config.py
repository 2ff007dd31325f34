"""Where chatdesk keeps its data, read from the environment once per call site.

``CHATDESK_DATA_DIR`` wins, else the platform's user data directory. The directory is
private (0700): it holds the conversation history.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

APP_NAME = "chatdesk"
LOCK_FILE_NAME = "chatdesk.lock"
"""The data directory's lock file (a ``QLockFile``): held by the app, or a command that
writes, while it uses the database."""
DATA_DIR_ENV = "CHATDESK_DATA_DIR"
DATABASE_URL_ENV = "CHATDESK_DATABASE_URL"
DATABASE_FILE_NAME = "chatdesk.db"
SETTINGS_FILE_NAME = "ui.ini"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
OWNER_BITS = 0o700
PRIVATE_UMASK = 0o077
"""The umask of every chatdesk process: what it (or CrewAI) creates is the owner's only."""


def data_dir(create: bool = True) -> Path:
    """The data directory, created 0700 (and tightened to 0700 if it already exists)."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        path = Path(configured).expanduser().absolute()
    else:
        import platformdirs  # only on this path: saves an import when the env var is set

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        ensure_private_dir(path)
    return path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make the leaf readable by its owner only.

    An existing directory only loses group and other permissions: one the person made
    read-only stays read-only (start-up then explains, rather than undoing their choice).
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    make_private(path)
    return path


def make_private(path: Path) -> None:
    """Take group and other permissions off ``path``; the owner's bits stay as they are.

    A path its owner cannot write (made read-only on purpose) is left exactly as it is.
    """
    mode = path.stat().st_mode & 0o777
    if mode & stat.S_IWUSR and mode & ~OWNER_BITS:
        path.chmod(mode & OWNER_BITS)


def database_url(directory: Path | None = None) -> str:
    """``CHATDESK_DATABASE_URL``, else a SQLite file in the data directory."""
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured:
        return configured
    base = directory if directory is not None else data_dir()
    return f"sqlite:///{base / DATABASE_FILE_NAME}"


def settings_path(directory: Path | None = None) -> Path:
    """The preferences file (INI): the window's own and the model settings."""
    base = directory if directory is not None else data_dir()
    return base / SETTINGS_FILE_NAME


def backups_dir(directory: Path | None = None, create: bool = True) -> Path:
    """Where database backups go (private, like the data directory).

    Start-up passes ``create=False``: the first backup makes it, so a start that is
    refused leaves no new folder behind.
    """
    base = directory if directory is not None else data_dir()
    path = base / "backups"
    return ensure_private_dir(path) if create else path


ATTACHMENTS_DIR_NAME = "attachments"


def attachments_dir(directory: Path | None = None) -> Path:
    """Where attached files are stored (``<data dir>/attachments``); not created here:
    the first file attached makes it, private."""
    base = directory if directory is not None else data_dir(create=False)
    return base / ATTACHMENTS_DIR_NAME
