"""A throwaway PostgreSQL server for the test suite.

``PostgresServer.start()`` runs ``initdb`` on a fresh cluster in a temporary directory, launches
``postgres`` on a free port of 127.0.0.1 (durability switched off: this data is thrown away),
waits until it accepts connections, creates a database and exposes its SQLAlchemy URL
(``postgresql+psycopg://chatdesk@127.0.0.1:<port>/chatdesk``). ``create_database(name)`` hands out
further isolated databases cheaply (``CREATE DATABASE ... TEMPLATE template0``), and ``stop()``
shuts the server down immediately and deletes the cluster.

PostgreSQL refuses to run as root. When this process is root the server programs run as the
``postgres`` system user (``nobody`` when there is none), and the temporary directory is created
under a world-traversable directory (``/dev/shm`` or ``/tmp``) and handed to that user.

A server is never left behind: ``stop()`` is registered with ``atexit``, and on Linux the
postmaster also gets ``PR_SET_PDEATHSIG`` so it shuts down even when the test process is killed
or leaves through ``os._exit`` (as pytest-timeout's thread method does). That signal fires when
the *thread* that started the server ends, so start it from the thread that lives for the whole
session (pytest's main thread).

Environment:

``CHATDESK_TEST_POSTGRES_URL``
    Use this existing server instead of starting one. The URL must name a role that may
    ``CREATE DATABASE``; ``.url`` is that URL, ``create_database`` creates databases on that server
    and ``stop()`` drops the databases this object created, leaving the server running.
``CHATDESK_TEST_POSTGRES_BINDIR``
    Directory holding ``initdb`` and ``postgres``; skips the search described in
    ``find_postgres_bindir``.
``CHATDESK_TEST_POSTGRES_TMPDIR``
    Directory in which to create the cluster's temporary directory. By default ``/dev/shm`` when
    it has at least 2 GiB free (a cluster in memory starts and creates databases about ten times
    faster than on a slow disk), else the usual temp dir (``/tmp`` when that is not reachable by
    the ``postgres`` user). Temporary directories left by killed sessions are removed at the next
    start.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.engine import URL, make_url

from tests.support.processes import die_with_parent, keep_for_session

__all__ = [
    "URL_ENV",
    "PostgresServer",
    "PostgresStartError",
    "find_postgres_bindir",
    "in_ci",
    "postgres_unavailable_reason",
    "skip_or_fail_without_postgres",
    "start_postgres_or_none",
]

URL_ENV = "CHATDESK_TEST_POSTGRES_URL"
BINDIR_ENV = "CHATDESK_TEST_POSTGRES_BINDIR"
TMPDIR_ENV = "CHATDESK_TEST_POSTGRES_TMPDIR"

SUPERUSER = "chatdesk"
DEFAULT_DATABASE = "chatdesk"
HOST = "127.0.0.1"
DRIVER = "postgresql+psycopg"

_DIR_PREFIX = "chatdesk-pg-"
_OWNER_FILE = "owner.pid"
_SHM_MIN_FREE = 2 * 1024**3
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS

_REQUIRED_PROGRAMS = ("initdb", "postgres")
_PORT_IN_USE = re.compile(r"could not bind|address already in use|could not create any TCP", re.I)

# Settings for a server whose data nobody will ever read again.
_SERVER_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "listen_addresses": HOST,
    "max_connections": "100",
    "autovacuum": "off",
    "log_min_messages": "warning",
}


class PostgresStartError(RuntimeError):
    """The server could not be initialised or did not come up."""


class _PortTaken(PostgresStartError):
    """The port picked for the server was taken before the server could bind it."""


# --------------------------------------------------------------------------- locating binaries


def _has_programs(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED_PROGRAMS)


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: "15" > "9.6".
    parts = re.findall(r"\d+", path.parent.name)
    return tuple(int(p) for p in parts) or (-1,)


def find_postgres_bindir() -> Path | None:
    """Directory holding ``initdb`` and ``postgres``, or None when they are not installed.

    Looks at ``$CHATDESK_TEST_POSTGRES_BINDIR``, then ``pg_config --bindir``, then the newest
    ``/usr/lib/postgresql/*/bin`` (Debian, Ubuntu), then ``$PATH``.
    """
    override = os.environ.get(BINDIR_ENV)
    if override:
        return Path(override) if _has_programs(Path(override)) else None

    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            # Debian's pg_config may come from libpq-dev without a server behind it.
            if out and _has_programs(Path(out)):
                return Path(out)

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for candidate in candidates:
        if _has_programs(candidate):
            return candidate

    initdb = shutil.which("initdb")
    if initdb:
        bindir = Path(initdb).resolve().parent
        if _has_programs(bindir):
            return bindir
    return None


def postgres_unavailable_reason() -> str | None:
    """Why no server can be had here, or None when one can (started or via the env var)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    if os.environ.get(URL_ENV):
        return None
    if find_postgres_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, postgres) not found via "
            f"${BINDIR_ENV}, pg_config, /usr/lib/postgresql/*/bin or $PATH; "
            f"install postgresql or set {URL_ENV}"
        )
    return None


# --------------------------------------------------------------------------- process helpers


class _RunAs:
    """Whom the server programs run as: this process, or an unprivileged user when root."""

    def __init__(self) -> None:
        self.uid: int | None = None
        self.gid: int | None = None
        self.name: str | None = None
        if os.name == "posix" and os.geteuid() == 0:
            import pwd

            for name in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
                if entry.pw_uid != 0:
                    self.uid, self.gid, self.name = entry.pw_uid, entry.pw_gid, name
                    break
            else:
                raise PostgresStartError(
                    "running as root and neither a 'postgres' nor a 'nobody' user exists; "
                    "PostgreSQL refuses to run as root"
                )

    @property
    def drops_privileges(self) -> bool:
        return self.uid is not None

    def popen_kwargs(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


def _traversable_by_others(path: Path) -> bool:
    path = path.resolve()
    for part in (path, *path.parents):
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _usable_parent(path: Path, run_as: _RunAs, min_free: int = 0) -> bool:
    try:
        if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            return False
        if min_free and shutil.disk_usage(path).free < min_free:
            return False
    except OSError:
        return False
    return not run_as.drops_privileges or _traversable_by_others(path)


def _parent_dir(run_as: _RunAs) -> Path:
    """Where the cluster goes: ``$CHATDESK_TEST_POSTGRES_TMPDIR``, else a roomy ``/dev/shm``
    (memory: ~10x faster initdb and CREATE DATABASE than a slow disk), else the temp dir."""
    override = os.environ.get(TMPDIR_ENV)
    if override:
        return Path(override)
    shm = Path("/dev/shm")
    if _usable_parent(shm, run_as, min_free=_SHM_MIN_FREE):
        return shm
    parent = Path(tempfile.gettempdir())
    if _usable_parent(parent, run_as):
        return parent
    return Path("/tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _sweep_stale(parent: Path) -> None:
    """Remove clusters left by sessions that died without cleaning up (SIGKILL, os._exit)."""
    for base in parent.glob(f"{_DIR_PREFIX}*"):
        owner = _read_pid(base / _OWNER_FILE)
        if owner is None or _pid_alive(owner):
            continue  # not ours to judge, or still in use
        postmaster = _read_pid(base / "data" / "postmaster.pid")
        if postmaster is not None and _pid_alive(postmaster):
            continue  # a server outlived its session; leave it for a human to look at
        shutil.rmtree(base, ignore_errors=True)


def _make_base_dir(run_as: _RunAs) -> Path:
    parent = _parent_dir(run_as)
    with contextlib.suppress(OSError):
        _sweep_stale(parent)
    base = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=parent))
    (base / _OWNER_FILE).write_text(f"{os.getpid()}\n")
    run_as.chown(base)
    return base


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", TZ="UTC")
    return env


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _connect_kwargs(url: URL) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key, value in url.query.items():
        kwargs[key] = value if isinstance(value, str) else value[-1]
    if url.host:
        kwargs["host"] = url.host
    if url.port:
        kwargs["port"] = url.port
    if url.username:
        kwargs["user"] = url.username
    if url.password is not None:
        kwargs["password"] = url.password
    kwargs["dbname"] = url.database or "postgres"
    return kwargs


# --------------------------------------------------------------------------- the server

_live: set[PostgresServer] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


class PostgresServer:
    """A PostgreSQL server for tests: throwaway, or an existing one named by the env var.

    Use ``PostgresServer.start()`` (or ``with PostgresServer.start() as pg:``); do not call the
    constructor directly.
    """

    start_timeout: ClassVar[float] = 20.0
    """Seconds to wait for a launched server to accept connections."""

    def __init__(
        self,
        url: URL,
        *,
        process: subprocess.Popen[bytes] | None = None,
        base_dir: Path | None = None,
        log_file: Any = None,
    ) -> None:
        self._admin_url = url
        self._process = process
        self._base_dir = base_dir
        self._log_file = log_file
        self._created: list[str] = []
        self._lock = threading.Lock()
        self._stopped = False
        self.url: str = url.render_as_string(hide_password=False)
        """SQLAlchemy URL of the default database."""

    # ---------------------------------------------------------------- construction

    @classmethod
    def start(
        cls,
        *,
        database: str = DEFAULT_DATABASE,
        bindir: Path | None = None,
        timeout: float | None = None,
    ) -> PostgresServer:
        """Start a throwaway server (or attach to ``$CHATDESK_TEST_POSTGRES_URL``).

        ``database`` is created on a started server and becomes ``.url``; it is ignored for an
        existing server, whose ``.url`` is the one given. Raises ``PostgresStartError`` when no
        binaries are found or the server does not come up.
        """
        external = os.environ.get(URL_ENV)
        if external:
            return cls.attach(external)
        bindir = bindir or find_postgres_bindir()
        if bindir is None:
            raise PostgresStartError(postgres_unavailable_reason() or "no PostgreSQL binaries")
        return cls._launch(bindir, database, cls.start_timeout if timeout is None else timeout)

    @classmethod
    def attach(cls, url: str | URL) -> PostgresServer:
        """Use an existing server; ``url`` must allow ``CREATE DATABASE``."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(f"{URL_ENV} must be a postgresql URL, got {parsed.drivername!r}")
        parsed = parsed.set(drivername=DRIVER)
        server = cls(parsed)
        import psycopg

        try:
            with server._admin() as conn:  # fail early and clearly when unreachable
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            shown = parsed.render_as_string(hide_password=True)
            raise PostgresStartError(f"cannot connect to {shown} ({URL_ENV}): {exc}") from exc
        with _live_lock:
            _live.add(server)
        return server

    @classmethod
    def _launch(cls, bindir: Path, database: str, timeout: float) -> PostgresServer:
        run_as = _RunAs()
        base = _make_base_dir(run_as)
        try:
            data = base / "data"
            cls._initdb(bindir, data, base, run_as)
            last_error: PostgresStartError | None = None
            for _attempt in range(3):  # the free port may be taken before postgres binds it
                try:
                    server = cls._spawn(bindir, base, run_as, _free_port(), timeout)
                except _PortTaken as exc:
                    last_error = exc
                    continue
                break
            else:
                assert last_error is not None
                raise last_error
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        try:
            if database != "postgres":
                server._create(database)
            server.url = server._url_for(database)
        except BaseException:
            server.stop()
            raise
        return server

    @staticmethod
    def _initdb(bindir: Path, data: Path, cwd: Path, run_as: _RunAs) -> None:
        cmd = [
            str(bindir / "initdb"),
            "--pgdata", str(data),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
        ]  # fmt: skip
        try:
            result = subprocess.run(
                cmd,
                cwd=cwd,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                **run_as.popen_kwargs(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise PostgresStartError(f"initdb could not run: {exc}") from exc
        if result.returncode != 0:
            raise PostgresStartError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    @classmethod
    def _spawn(
        cls, bindir: Path, base: Path, run_as: _RunAs, port: int, timeout: float
    ) -> PostgresServer:
        socket_path = base / f".s.PGSQL.{port}"
        socket_dir = str(base) if len(str(socket_path)) <= _MAX_SOCKET_PATH else ""
        settings = {**_SERVER_SETTINGS, "port": str(port), "unix_socket_directories": socket_dir}
        cmd = [str(bindir / "postgres"), "-D", str(base / "data")]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        log_path = base / f"postgres-{port}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 -- owned by the server object
        try:
            process = subprocess.Popen(
                cmd,
                cwd=base,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal is pytest's to handle
                preexec_fn=die_with_parent(signal.SIGQUIT),  # immediate shutdown
                **run_as.popen_kwargs(),
            )
        except BaseException:
            log_file.close()
            raise
        url = URL.create(DRIVER, username=SUPERUSER, host=HOST, port=port, database="postgres")
        keep_for_session(process.pid)
        server = cls(url, process=process, base_dir=base, log_file=log_file)
        with _live_lock:
            _live.add(server)
        try:
            server._wait_until_ready(timeout, log_path)
        except BaseException:
            server._terminate()
            server._close_log()
            with _live_lock:
                _live.discard(server)
            raise
        return server

    def _wait_until_ready(self, timeout: float, log_path: Path) -> None:
        import psycopg

        assert self._process is not None
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            code = self._process.poll()
            if code is not None:
                log = _tail(log_path)
                error = _PortTaken if _PORT_IN_USE.search(log) else PostgresStartError
                raise error(f"postgres exited with code {code} while starting:\n{log}")
            try:
                with self._admin(connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresStartError(
                        f"postgres did not accept connections within {timeout:.0f} s: {exc}\n"
                        f"{_tail(log_path)}"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    # ---------------------------------------------------------------- use

    @property
    def is_external(self) -> bool:
        """True when this object points at ``$CHATDESK_TEST_POSTGRES_URL`` instead of owning it."""
        return self._process is None

    @property
    def pid(self) -> int | None:
        """Process id of the postmaster this object started (None for an existing server)."""
        return None if self._process is None else self._process.pid

    @property
    def base_dir(self) -> Path | None:
        """Temporary directory holding the cluster, socket and log (removed by ``stop()``)."""
        return self._base_dir

    @property
    def port(self) -> int | None:
        return self._admin_url.port

    def url_for(self, name: str) -> str:
        """SQLAlchemy URL of database ``name`` on this server (which need not exist)."""
        return self._url_for(name)

    def create_database(self, name: str | None = None, template: str = "template0") -> str:
        """Create a database (empty, from template0, unless ``template`` names another
        database of this server, nobody connected to it) and return its SQLAlchemy URL.

        Without ``name`` a unique one is chosen, which matters on a shared server.
        """
        name = name or f"chatdesk_test_{uuid.uuid4().hex[:12]}"
        self._create(name, template)
        return self._url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting whoever still uses it."""
        self._check_running()
        self._drop(name)

    def stop(self) -> None:
        """Shut a started server down and delete its files; for an existing server, drop the
        databases this object created. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            created = list(self._created)
        try:
            if self._process is None:
                for name in reversed(created):
                    with contextlib.suppress(Exception):
                        self._drop(name)
            else:
                self._terminate()
        finally:
            self._close_log()
            if self._base_dir is not None:
                shutil.rmtree(self._base_dir, ignore_errors=True)
            with _live_lock:
                _live.discard(self)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = "external" if self.is_external else f"pid={self.pid}"
        state = "stopped" if self._stopped else "running"
        return f"<PostgresServer {where} {self._admin_url.host}:{self.port} {state}>"

    # ---------------------------------------------------------------- internals

    def _url_for(self, name: str) -> str:
        return self._admin_url.set(database=name).render_as_string(hide_password=False)

    def _check_running(self) -> None:
        if self._stopped:
            raise RuntimeError(f"{self!r} has been stopped")

    @contextlib.contextmanager
    def _admin(self, **extra: Any) -> Iterator[Any]:
        import psycopg

        kwargs = {"connect_timeout": 10, **_connect_kwargs(self._admin_url), **extra}
        with psycopg.connect(autocommit=True, **kwargs) as conn:
            yield conn

    def _create(self, name: str, template: str = "template0") -> None:
        from psycopg import sql

        self._check_running()
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} ENCODING 'UTF8'").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        with self._lock:
            self._created.append(name)

    def _drop(self, name: str) -> None:
        from psycopg import errors, sql

        ident = sql.Identifier(name)
        with self._admin() as conn:
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            except errors.SyntaxError:  # PostgreSQL < 13
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
        with self._lock:
            if name in self._created:
                self._created.remove(name)

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            if process is not None:
                process.wait()
            return
        # SIGQUIT = immediate shutdown: children are told to quit and the postmaster waits
        # for them. The data is thrown away, so there is nothing to checkpoint.
        for sig, wait in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def in_ci() -> bool:
    """True when ``$CI`` is set (to anything but an empty string, ``0``, ``false`` or ``no``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail_without_postgres(*, need_binaries: bool = False) -> None:
    """In a test or fixture: skip when no server can be had here, but fail when ``$CI`` is set,
    where a missing PostgreSQL is a broken CI image, not an optional extra.

    ``need_binaries`` asks for local binaries even when ``$CHATDESK_TEST_POSTGRES_URL`` is set
    (for tests of the launching itself).
    """
    reason = postgres_unavailable_reason()
    if reason is None and need_binaries and find_postgres_bindir() is None:
        reason = "PostgreSQL server binaries (initdb, postgres) not found"
    if reason is None:
        return
    import pytest

    if in_ci():
        pytest.fail(f"{reason} -- CI is set, so this is an error, not a skip", pytrace=False)
    pytest.skip(reason)


def start_postgres_or_none(**kwargs: Any) -> PostgresServer | None:
    """``PostgresServer.start(**kwargs)``, or None when no server can be had here (no binaries
    and no ``$CHATDESK_TEST_POSTGRES_URL``, or psycopg missing). A server that is there but
    fails to start raises ``PostgresStartError``; that is a bug to see, not a reason to skip."""
    if postgres_unavailable_reason() is not None:
        return None
    return PostgresServer.start(**kwargs)
