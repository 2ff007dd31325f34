"""``chatdesk import PATH...``: files of chats read in without a window.

Each file is one all-or-nothing import through the same door as the window's
(``ImportService``): its format found from its content (``--from`` says it instead),
chats seen before skipped (``--again`` imports copies). Progress goes to stderr (a line
rewritten in place on a terminal), a summary to stdout. The running app owns the
database as its writer (the data directory's lock file): while it runs, the import is
refused with a word on how to do it from the window. Ctrl+C stops an import cleanly:
what it wrote is removed.

Exit codes: 0 every file imported (or already there), 2 a file or the data directory
could not be used (the reason printed), 3 refused (chatdesk is running), 130 stopped.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

from chatdesk.services.foreign.chat import SOURCE_NAMES, Source

OK, BAD_INPUT, REFUSED, STOPPED = 0, 2, 3, 130
PROGRESS_EVERY_S = 0.2
"""How often a terminal's progress line is rewritten (a pipe gets a line per tenth)."""


def main(argv: Sequence[str]) -> int:
    """``chatdesk import PATH... [--from SOURCE] [--again]``; the exit code."""
    parser = argparse.ArgumentParser(
        prog="chatdesk import",
        description="Import chats from files: chatdesk's own (a chat or an archive) or "
        "exports of ChatGPT, Claude, Open WebUI and LibreChat, found from their content.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files to import")
    parser.add_argument(
        "--from",
        dest="source",
        choices=[source.value for source in Source],
        help="what the files are (default: found from their content)",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="import chats that are here already (from an earlier import) as copies",
    )


class _Progress:
    """Progress lines on ``out``: rewritten in place on a terminal, else a few lines."""

    def __init__(self, out: TextIO, name: str) -> None:
        self._out = out
        self._name = name
        self._tty = out.isatty()
        self._last = 0.0
        self._at: tuple[object, int] | None = None
        self._shown = False

    def __call__(self, progress: object) -> None:
        from chatdesk.services.transfer import ImportProgress, ImportStage

        assert isinstance(progress, ImportProgress)
        share = progress.done / progress.total if progress.total else 1.0
        words = {
            ImportStage.READING: "checking",
            ImportStage.WRITING: "writing",
            ImportStage.IMPORTING: "importing",
            ImportStage.PUBLISHING: "showing the chats",
            ImportStage.DISCARDING: "removing what was written",
        }[progress.stage]
        line = f"{self._name}: {words} {min(share, 1.0):.0%}"
        if self._tty:
            now = time.monotonic()
            if now - self._last >= PROGRESS_EVERY_S or share >= 1.0:
                self._last = now
                self._out.write("\r\x1b[2K" + line)
                self._out.flush()
                self._shown = True
            return
        at = (progress.stage, int(min(share, 1.0) * 10))
        if at != self._at:  # a line per stage and tenth
            self._at = at
            self._out.write(line + "\n")

    def end(self) -> None:
        if self._tty and self._shown:
            self._out.write("\r\x1b[2K")
            self._out.flush()


@contextmanager
def _stop_on_interrupt() -> Iterator[threading.Event]:
    """Ctrl+C (or SIGTERM) asks the import to stop instead of killing it mid-write."""
    stop = threading.Event()

    def on_signal(_number: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Import ``args.paths``; the exit code."""
    from chatdesk.commands.data_access import DataAccessError, writable_services

    source = Source(args.source) if args.source else None
    try:
        with writable_services() as (services, user_id):
            return _import_all(services, user_id, args.paths, source, args.again, out, err)
    except DataAccessError as error:
        print(f"chatdesk import: {error}", file=err)
        return error.exit_code


def _import_all(
    services: object,
    user_id: int,
    paths: Sequence[Path],
    source: Source | None,
    again: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    from chatdesk.services import Services
    from chatdesk.services.errors import ServiceError
    from chatdesk.services.foreign_import import ALREADY
    from chatdesk.services.import_batch import AlreadyImportedError
    from chatdesk.services.transfer import ImportCancelled

    assert isinstance(services, Services)
    code = OK
    chats = messages = already = 0
    with _stop_on_interrupt() as stop:
        for path in paths:
            progress = _Progress(err, path.name)
            try:
                summary = services.imports.import_path(
                    user_id,
                    path,
                    source=source,
                    again=again,
                    on_progress=progress,
                    should_stop=stop.is_set,
                )
            except ImportCancelled:
                progress.end()
                print(f"{path}: stopped; nothing of it was added.", file=err)
                return STOPPED
            except AlreadyImportedError as error:
                progress.end()
                print(f"{path}: {error} (--again imports copies)", file=out)
                already += len(error.titles)
                continue
            except ServiceError as error:  # a bad file, a locked or full database
                progress.end()
                print(f"{path}: {error}", file=err)
                code = BAD_INPUT
                continue
            progress.end()
            chats += len(summary.chats)
            messages += summary.messages
            skipped = summary.skipped
            already += sum(1 for s in skipped if s.reason == ALREADY)
            name = SOURCE_NAMES[summary.source]
            print(
                f"{path}: {len(summary.chats):,} chats from {name}, {summary.messages:,} messages",
                file=out,
            )
            for one in skipped:
                print(f"  skipped “{one.title}”: {one.reason}", file=out)
    print(
        f"Imported {chats:,} chats ({messages:,} messages) from {len(paths):,} files"
        + (f"; {already:,} chats were already here." if already else "."),
        file=out,
    )
    return code
