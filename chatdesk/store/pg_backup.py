"""A backup of a PostgreSQL database before chatdesk upgrades it: ``pg_dump``.

Shaped like the SQLite backups (``backup.py``): ``chatdesk-<utc time>-<label>.dump``
in the data directory's backups, written under a ``.partial`` name (0600) and renamed
when whole, the five newest kept. Custom format (``pg_restore`` reads it, table by
table if need be). The password goes to ``pg_dump`` in its environment, never on its
command line, where any user could read it.

``pg_dump`` refuses servers newer than itself, so its major version is checked first.
When it is missing, too old, or fails, ``BackupUnavailableError`` says so in a
sentence and nothing was changed: the app then asks whether to upgrade without a
backup, a command refuses unless ``CHATDESK_UPGRADE_WITHOUT_BACKUP=1``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from chatdesk.store.backup import PARTIAL_SUFFIX, backup_name, prune_backups
from chatdesk.store.connection import create_private_file
from chatdesk.store.errors import BackupUnavailableError, UpgradeCancelled

if TYPE_CHECKING:
    from chatdesk.store.upgrade_progress import UpgradeMonitor

WITHOUT_BACKUP_ENV = "CHATDESK_UPGRADE_WITHOUT_BACKUP"
POLL_SECONDS = 0.2
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


def find_pg_dump() -> Path | None:
    """``pg_dump`` on PATH, if any."""
    found = shutil.which("pg_dump")
    return Path(found) if found else None


def pg_dump_major(program: Path) -> int | None:
    """The major version ``program --version`` names, or None when it does not say."""
    try:
        shown = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(shown)
    return int(match.group(1)) if match else None


def server_major(engine: Engine) -> int:
    """The server's major version (``server_version_num`` 150010 is 15)."""
    with engine.connect() as connection:
        number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    return number // 10000


def usable_pg_dump(engine: Engine) -> Path:
    """The ``pg_dump`` that can back up this server, or ``BackupUnavailableError``."""
    program = find_pg_dump()
    if program is None:
        raise BackupUnavailableError(
            "No backup was made: pg_dump (PostgreSQL's backup program) is not installed "
            "on this computer."
        )
    ours, theirs = pg_dump_major(program), server_major(engine)
    if ours is None or ours < theirs:
        raise BackupUnavailableError(
            f"No backup was made: {program} (version {ours or 'unknown'}) cannot back up "
            f"a PostgreSQL {theirs} server; install pg_dump {theirs} or newer."
        )
    return program


def backup_postgres(
    engine: Engine, backup_dir: Path, label: str, monitor: UpgradeMonitor | None = None
) -> Path:
    """Dump the database behind ``engine`` into ``backup_dir``; returns the file."""
    program = usable_pg_dump(engine)
    target = backup_name(backup_dir, label, ".dump")
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    create_private_file(partial)
    url = engine.url
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    command = [
        str(program),
        "--format=custom",
        "--no-password",
        f"--file={partial}",
        f"--dbname={_conninfo(url)}",
    ]
    try:
        _run(command, environment, monitor)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    prune_backups(backup_dir)
    return target


def _conninfo(parsed: URL) -> str:
    """libpq's connection string for ``parsed``, without its password."""
    from psycopg.conninfo import make_conninfo

    options = {key: value for key, value in parsed.query.items() if isinstance(value, str)}
    parts = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "dbname": parsed.database,
        **options,
    }
    return make_conninfo("", **{key: value for key, value in parts.items() if value is not None})


def _run(command: list[str], environment: dict[str, str], monitor: UpgradeMonitor | None) -> None:
    if monitor is not None:
        from chatdesk.store.upgrade_progress import Stage, UpgradeStep

        monitor.report(UpgradeStep(Stage.BACKING_UP, "Backing up with pg_dump"))
    with subprocess.Popen(
        command,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        while True:
            try:
                _out, errors = process.communicate(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if monitor is not None and monitor.stop_requested:
                    process.kill()
                    process.communicate()
                    raise UpgradeCancelled(
                        "The upgrade was stopped during its backup; nothing was changed."
                    ) from None
    if process.returncode != 0:
        last = (errors or "").strip().splitlines()
        raise BackupUnavailableError(
            f"No backup was made: pg_dump failed ({last[-1] if last else process.returncode})."
        )
