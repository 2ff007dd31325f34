"""Logins, grants and pg_hba.conf rules on the session's PostgreSQL, for refusal tests.

Roles are cluster-wide, so each gets a unique name. ``hba_rules`` puts lines at the
top of the throwaway cluster's ``pg_hba.conf`` (it trusts everyone otherwise), reloads
it, and takes them out again afterwards; it needs a server this suite started.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url


def admin_engine(url: str) -> Engine:
    """An autocommit engine as the superuser on ``url``'s database."""
    return create_engine(url, isolation_level="AUTOCOMMIT")


def admin(server: Any, database: str, *statements: str) -> None:
    """Run ``statements`` as the superuser in ``database``."""
    engine = create_engine(server.url_for(database), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def new_role(server: Any, *, password: str | None = None) -> str:
    """A login with no grants of its own (PUBLIC's defaults only)."""
    name = f"r_{uuid.uuid4().hex[:10]}"
    secret = f" PASSWORD '{password}'" if password is not None else ""
    admin(server, "postgres", f"CREATE ROLE {name} LOGIN{secret}")
    return name


def url_as(server: Any, database: str, role: str, password: str | None = None) -> str:
    """``database``'s URL logged in as ``role``."""
    url = make_url(server.url_for(database)).set(username=role, password=password)
    return url.render_as_string(hide_password=False)


def closed_port() -> int:
    """A port nothing listens on (bound, then closed at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def hba_rules(server: Any, lines: list[str], until: Callable[[], bool]) -> Iterator[None]:
    """``lines`` first in pg_hba.conf until the block ends; ``until`` says they are live."""
    if server.base_dir is None:
        pytest.skip("pg_hba.conf rules need a server this suite started")
    hba = server.base_dir / "data" / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text("\n".join(lines) + "\n" + original)
    try:
        _reload_until(server, until)
        yield
    finally:
        hba.write_text(original)
        admin(server, "postgres", "SELECT pg_reload_conf()")


def _reload_until(server: Any, until: Callable[[], bool]) -> None:
    admin(server, "postgres", "SELECT pg_reload_conf()")
    deadline = time.monotonic() + 30  # the postmaster reloads on its next loop: milliseconds
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("pg_hba.conf was not reloaded")
        time.sleep(0.01)
