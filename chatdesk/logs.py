"""Logging to a private, rotating file in the data directory (and warnings to stderr)."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from chatdesk.config import PRIVATE_FILE_MODE, ensure_private_dir
from chatdesk.redact import RedactingFilter, register_secret, register_url

LOG_FILE_NAME = "chatdesk.log"
MAX_LOG_BYTES = 2_000_000
LOG_BACKUPS = 3


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file is created 0600."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_CREAT | os.O_APPEND | os.O_WRONLY, PRIVATE_FILE_MODE)
        os.chmod(self.baseFilename, PRIVATE_FILE_MODE)
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def configure_logging(data_dir: Path, level: int = logging.INFO) -> Path:
    """Send chatdesk's log records to ``<data_dir>/logs/chatdesk.log``; returns the path."""
    log_dir = ensure_private_dir(data_dir / "logs")
    path = log_dir / LOG_FILE_NAME
    handler = _PrivateRotatingFileHandler(
        path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(handler)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.addFilter(RedactingFilter())
    root.addHandler(console)
    register_secret(os.environ.get("CHATDESK_LLM_API_KEY"))
    register_url(os.environ.get("CHATDESK_LLM_BASE_URL"))
    return path
