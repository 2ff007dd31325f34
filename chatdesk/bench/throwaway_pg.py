"""A throwaway PostgreSQL server for a bench run that was given no ``--database-url``.

``throwaway_postgres()`` runs ``initdb`` in a temporary directory, starts ``postgres``
on a free port of 127.0.0.1 (durability off: the data is thrown away), waits until it
answers and yields its SQLAlchemy URL; at the end the server is stopped and the
directory deleted. The server dies with this process (``PR_SET_PDEATHSIG``) even when
the bench is killed. As root, the server programs run as ``postgres`` (or ``nobody``):
PostgreSQL refuses to run as root. (The test suite's ``tests/support/postgres.py`` does
the same with more care; the bench must not import the tests.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

USER = "chatdesk"
DATABASE = "chatdesk"
START_TIMEOUT_S = 60.0


class NoPostgresError(RuntimeError):
    """PostgreSQL's server programs are not installed here."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``postgres``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres")):
            return bindir
    raise NoPostgresError("PostgreSQL is not installed (no initdb/postgres found)")


def _run_as() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    import pwd

    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise NoPostgresError("running as root without a 'postgres' or 'nobody' user")


def _die_with_parent() -> None:  # between fork and exec
    ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh server's URL (``postgresql+psycopg://chatdesk@127.0.0.1:PORT/chatdesk``)."""
    bindir = find_bindir()
    as_user = _run_as()
    parent = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    base = Path(tempfile.mkdtemp(prefix="chatdesk-bench-pg-", dir=parent))
    server: subprocess.Popen[bytes] | None = None
    try:
        if as_user:
            os.chown(base, as_user["user"], as_user["group"])
        data = base / "data"
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            **as_user,
        )
        port = _free_port()
        settings = {
            "port": str(port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(base),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        args = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with (base / "server.log").open("wb") as log:
            server = subprocess.Popen(
                args, stdout=log, stderr=log, preexec_fn=_die_with_parent, **as_user
            )
        admin = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
        _wait_until_up(admin, server)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGQUIT)  # immediate shutdown
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_up(conninfo: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.returncode}")
        try:
            with psycopg.connect(conninfo, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
