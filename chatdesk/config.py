"""Where chatdesk keeps its data, read from the environment once per call site.

``CHATDESK_DATA_DIR`` wins, else the platform's user data directory. The directory is
private (0700): it holds the conversation history.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "chatdesk"
DATA_DIR_ENV = "CHATDESK_DATA_DIR"
DATABASE_URL_ENV = "CHATDESK_DATABASE_URL"
DATABASE_FILE_NAME = "chatdesk.db"
SETTINGS_FILE_NAME = "ui.ini"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


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
    """Create ``path`` (and parents) and make the leaf readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)
    return path


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


def backups_dir(directory: Path | None = None) -> Path:
    """Where database backups go (private, like the data directory)."""
    base = directory if directory is not None else data_dir()
    return ensure_private_dir(base / "backups")
