"""Before start-up writes anything: can chatdesk use its data directory and database?

A data directory that is a file, or is read-only, and a database (or its ``-wal`` /
``-shm``) the person made read-only used to end in a Python traceback, after chatdesk
had already changed modes. ``find_file_problem`` looks first, writing nothing, and
names the file and what to do; start-up shows that and quits with nothing changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SUBDIRECTORIES = ("backups", "logs", "crewai")
FILES_IN_DATA_DIR = ("ui.ini", "chatdesk.lock")
NOTHING_CHANGED = "chatdesk changed nothing."


@dataclass(frozen=True)
class FileProblem:
    """A file or folder chatdesk cannot use, and what the person can do about it."""

    path: Path
    problem: str
    remedy: str

    def message(self) -> str:
        return f"{self.path} {self.problem}. {self.remedy} {NOTHING_CHANGED}"


def find_file_problem(directory: Path, database: Path | None) -> FileProblem | None:
    """The first reason chatdesk cannot write where it must, or None; reads only."""
    if directory.exists() and not directory.is_dir():
        return FileProblem(
            directory,
            "is a file, but chatdesk keeps its data in a folder there",
            "Move that file away, or set CHATDESK_DATA_DIR to a folder.",
        )
    if not directory.exists():
        return _uncreatable(directory)
    for problem in (
        _folder_problem(directory),
        *(_folder_problem(directory / name) for name in SUBDIRECTORIES),
        *(_file_problem(directory / name) for name in FILES_IN_DATA_DIR),
    ):
        if problem is not None:
            return problem
    if database is not None:
        if not database.parent.exists():
            return _uncreatable(database.parent)
        for path in (
            database.parent,
            database,
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ):
            problem = _folder_problem(path) if path.is_dir() else _file_problem(path)
            if problem is not None:
                return problem
    return None


def _uncreatable(directory: Path) -> FileProblem | None:
    """A missing folder is created at start-up: its nearest existing parent must allow it."""
    parent = directory.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return FileProblem(
            parent,
            f"is a file, so the folder {directory} cannot be made",
            "Move that file away, or set CHATDESK_DATA_DIR to another folder.",
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        return FileProblem(
            parent,
            f"is read-only, so the folder {directory} cannot be made",
            "Set CHATDESK_DATA_DIR to a folder you can write to.",
        )
    return None


def _folder_problem(path: Path) -> FileProblem | None:
    if not path.exists():
        return None
    if not path.is_dir():
        return FileProblem(
            path, "is a file, but chatdesk needs a folder there", "Move that file away."
        )
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        return FileProblem(
            path,
            "is read-only",
            f"Make it writable again (chmod u+rwx '{path}') and start chatdesk again.",
        )
    return None


def _file_problem(path: Path) -> FileProblem | None:
    if not path.exists():
        return None
    if path.is_dir():
        return FileProblem(
            path, "is a folder, but chatdesk needs a file there", "Move that folder away."
        )
    if not os.access(path, os.R_OK | os.W_OK):
        return FileProblem(
            path,
            "is read-only",
            f"Make it writable again (chmod u+rw '{path}') and start chatdesk again.",
        )
    return None
