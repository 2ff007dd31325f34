"""``chatdesk export --all DIR`` (or ``--thread ID``, repeatable; ``--zip``): chats into
an archive from the command line, without a window.

Export only reads, so it runs beside a running chatdesk: SQLite in WAL mode lets it read
a snapshot while the app writes, and it never upgrades the database (one that needs it
is refused: "open chatdesk once to upgrade"). The database is the app's own:
``CHATDESK_DATA_DIR`` and ``CHATDESK_DATABASE_URL`` choose it, as they do for the app.

Progress goes to stderr (a line per chat; on a terminal one line rewritten as messages
go by), the summary to stdout. Exit codes: ``commands.OK``, ``BAD_INPUT`` (no database,
no such chat, a target that exists and is not an empty folder, a folder that cannot be
written), ``REFUSED`` (the database is locked or unreachable now).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chatdesk.commands import BAD_INPUT, OK, REFUSED

if TYPE_CHECKING:
    from chatdesk.services import Services

log = logging.getLogger(__name__)


class _Usage(Exception):
    """The words on the command line cannot be done; the message says why."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatdesk export",
        description="Write chats into an archive: a chatdesk JSON and a Markdown file per "
        "chat, and a manifest (chatdesk imports it back whole).",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every chat")
    which.add_argument(
        "--thread", type=int, action="append", metavar="ID", help="this chat (repeatable)"
    )
    parser.add_argument("--zip", action="store_true", help="write one .zip file, not a folder")
    parser.add_argument(
        "target", metavar="DIR", help="the folder to write (or, with --zip, the file)"
    )
    return parser


class _Progress:
    """Tells how far the export got on ``out``: a line per chat, or on a terminal one
    line rewritten as messages go by."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._chat = 0

    def __call__(self, progress: object) -> None:
        from chatdesk.services.archive import ArchiveProgress

        assert isinstance(progress, ArchiveProgress)
        if not progress.title:
            return
        line = f"[{progress.chat}/{progress.chats}] {progress.title[:60]}"
        if self._tty:
            done = f" — {progress.messages:,} of {progress.total:,} messages"
            self._out.write(f"\r\x1b[K{line}{done}")
        elif progress.chat != self._chat:
            self._out.write(line + "\n")
        self._chat = progress.chat
        self._out.flush()

    def end(self) -> None:
        if self._tty and self._chat:
            self._out.write("\n")
            self._out.flush()


def main(args: list[str]) -> int:
    """Run ``chatdesk export`` with ``args``; the exit code."""
    options = _parser().parse_args(args)
    try:
        return _export(options)
    except _Usage as error:
        print(f"chatdesk export: {error}", file=sys.stderr)
        return BAD_INPUT


def _export(options: argparse.Namespace) -> int:
    from chatdesk.private_files import restrict_new_files
    from chatdesk.redact import register_secret, register_url
    from chatdesk.services.archive import ArchiveError
    from chatdesk.services.errors import NotFoundError, StorageError

    restrict_new_files()  # the archive holds the history: the person's only
    register_secret(os.environ.get("CHATDESK_LLM_API_KEY"))
    register_url(os.environ.get("CHATDESK_LLM_BASE_URL"))
    target = Path(options.target).expanduser().absolute()
    if options.zip and target.suffix.lower() != ".zip":
        target = target.with_name(target.name + ".zip")
    services = _open_services()
    try:
        user_id = services.users.find()
        if user_id is None:
            raise _Usage("the database holds no chats yet; nothing to export.")
        progress = _Progress(sys.stderr)
        try:
            result = services.transfer.export_archive(
                user_id, target, options.thread, as_zip=options.zip, on_progress=progress
            )
        finally:
            progress.end()
    except (ArchiveError, NotFoundError) as error:
        raise _Usage(str(error)) from None
    except StorageError as error:
        print(f"chatdesk export: {error}", file=sys.stderr)
        return REFUSED
    finally:
        services.store.close()
    counts = ", ".join(
        _count(n, word)
        for n, word in (
            (result.messages, "message"),
            (result.executions, "run"),
            (result.steps, "step"),
        )
    )
    print(f"Exported {_count(result.chats, 'chat')} ({counts}) to {result.path}")
    for title, reason in result.skipped:
        print(f"Skipped “{title}”: {reason}")
    return OK


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _open_services() -> Services:
    """The services over the app's database, opened as it is: never created, never
    upgraded (refused with what to do instead)."""
    from chatdesk.config import data_dir, database_url
    from chatdesk.services import Services
    from chatdesk.store.connection import create_store_engine, sqlite_path
    from chatdesk.store.errors import StoreError
    from chatdesk.store.migrate import (
        inspect_engine,
        inspect_sqlite_file,
        open_store,
        upgrade_needed,
    )

    url = database_url(data_dir(create=False))
    path = sqlite_path(url)
    where = str(path) if path is not None else "CHATDESK_DATABASE_URL"
    if path is not None and not path.is_file():
        raise _Usage(f"there is no chatdesk database at {where} yet; nothing to export.")
    try:
        if path is not None:
            state = inspect_sqlite_file(path)
        else:
            engine = create_store_engine(url)
            try:
                state = inspect_engine(engine)
            finally:
                engine.dispose()
        if state.revision is None and not state.has_tables:  # opening would create it
            raise _Usage(f"there is no chatdesk database at {where} yet; nothing to export.")
        if upgrade_needed(url):
            raise _Usage(
                f"the database at {where} is from an older chatdesk: "
                "open chatdesk once to upgrade it, then export."
            )
        store = open_store(url)
    except StoreError as error:
        raise _Usage(str(error)) from None
    return Services(store)
