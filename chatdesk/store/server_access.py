"""Why a PostgreSQL server would not let chatdesk in, in one sentence for the person.

Every way in which a server can refuse start-up is told apart here and nowhere else:
the server cannot be reached (wrong host or port, not running, name unknown, timeout),
the login is refused (wrong or missing password, unknown role), the database does not
exist, a grant is missing (naming it: "CONNECT on database chat", "USAGE on schema
public", "SELECT on table messages"), or TLS is required by one side and not offered by
the other. A query's failure carries a SQLSTATE; a connection's does not (libpq has no
result to carry one), so those are told apart by libpq's own fixed wording.

``ServerAccessError`` is a ``StoreError``: start-up shows it in a dialog, a command
prints it on one line, and neither shows a traceback. The URL's password is never
part of a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from chatdesk.store.errors import StoreError

URL_SETTING = "CHATDESK_DATABASE_URL"


class AccessProblem(StrEnum):
    """What kind of refusal: each has its own dialog title and advice."""

    UNREACHABLE = "unreachable"
    BAD_LOGIN = "bad_login"
    NO_DATABASE = "no_database"
    MISSING_GRANT = "missing_grant"
    TLS_REQUIRED = "tls_required"
    TLS_UNAVAILABLE = "tls_unavailable"
    REFUSED = "refused"


TITLES = {
    AccessProblem.UNREACHABLE: "chatdesk cannot reach its database server",
    AccessProblem.BAD_LOGIN: "The database server refused chatdesk's login",
    AccessProblem.NO_DATABASE: "chatdesk's database does not exist",
    AccessProblem.MISSING_GRANT: "chatdesk lacks a permission on its database",
    AccessProblem.TLS_REQUIRED: "The database server requires an encrypted connection",
    AccessProblem.TLS_UNAVAILABLE: "The database server offers no encrypted connection",
    AccessProblem.REFUSED: "The database server refused chatdesk",
}


class ServerAccessError(StoreError):
    """The server refused chatdesk; the message says why and what to do.

    ``grants`` names the missing grants (``MISSING_GRANT`` only).
    """

    def __init__(self, message: str, problem: AccessProblem, grants: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problem = problem
        self.grants = grants

    @property
    def title(self) -> str:
        """The dialog's title."""
        return TITLES[self.problem]


_QUOTED = r'"([^"]*)"'
_DENIED = re.compile(r"permission denied for (table|schema|sequence|database|view) (\S+)")
_TABLE_USE = "SELECT, INSERT, UPDATE, DELETE"


def missing_grant_error(login: str, grants: list[str]) -> ServerAccessError:
    """The error naming ``grants`` that ``login`` lacks."""
    listed = "; ".join(grants)
    return ServerAccessError(
        f'The database login "{login}" lacks {listed}. Ask the administrator to grant it '
        '(docs/TEAM.md, "Setting up the server"); chatdesk changed nothing.',
        AccessProblem.MISSING_GRANT,
        tuple(grants),
    )


def explain(error: BaseException, url: str | URL) -> ServerAccessError | None:
    """The person's sentence for ``error`` met while using ``url``; None when it is
    no refusal by the server (a bug, or a failure the caller explains itself)."""
    original = error.orig if isinstance(error, DBAPIError) else error
    text = str(original)
    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    login = parsed.username or "(the current system user)"
    database = parsed.database or login
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate == "42501" or "permission denied for" in text:
        return missing_grant_error(login, [_grant_from(text, database)])
    if sqlstate == "3D000" or re.search(rf"database {_QUOTED} does not exist", text):
        return ServerAccessError(
            f'The database "{database}" does not exist on the server at {where}. Ask the '
            f"administrator to create it (docs/TEAM.md), or correct its name in {URL_SETTING}.",
            AccessProblem.NO_DATABASE,
        )
    if "no pg_hba.conf entry" in text:
        return ServerAccessError(
            f'The database server at {where} has no rule letting the login "{login}" in '
            f"from this computer{' without encryption' if 'no encryption' in text else ''}. "
            f"If the server requires TLS, add sslmode=require to {URL_SETTING}; otherwise "
            "ask the administrator to allow this login (pg_hba.conf).",
            AccessProblem.TLS_REQUIRED if "no encryption" in text else AccessProblem.REFUSED,
        )
    if sqlstate in ("28P01", "28000") or _is_bad_login(text):
        if "no encryption" in text:
            return _tls_required(where)
        return ServerAccessError(
            f'The database server at {where} refused the login "{login}" (wrong or missing '
            f"password, or no such login). Check the user name and password in "
            f"{URL_SETTING}, or ask the administrator.",
            AccessProblem.BAD_LOGIN,
        )
    if "no encryption" in text:
        return _tls_required(where)
    if "does not support SSL" in text:
        return ServerAccessError(
            f"The database server at {where} offers no encrypted (TLS) connection, but "
            f"{URL_SETTING} asks for one (sslmode). Ask the administrator to enable TLS on "
            "the server, or change sslmode if this network is trusted.",
            AccessProblem.TLS_UNAVAILABLE,
        )
    reason = _unreachable_reason(text)
    if reason is not None:
        return ServerAccessError(
            f"chatdesk cannot reach the database server at {where} ({reason}). Check the "
            f"host and port in {URL_SETTING} and that the server is running.",
            AccessProblem.UNREACHABLE,
        )
    if sqlstate is None and text.startswith("connection failed"):
        return ServerAccessError(
            f"The database server at {where} refused the connection: {_first_line(text)}",
            AccessProblem.REFUSED,
        )
    return None


@contextmanager
def server_errors_explained(url: str | URL) -> Iterator[None]:
    """Turn a server's refusal met inside into a ``ServerAccessError`` (others pass)."""
    try:
        yield
    except DBAPIError as error:
        if make_url(url).get_backend_name() != "postgresql":
            raise
        explained = explain(error, url)
        if explained is None:
            raise
        raise explained from None


def _grant_from(text: str, database: str) -> str:
    if "CONNECT privilege" in text:
        return f'CONNECT on database "{database}"'
    match = _DENIED.search(text)
    if match is None:
        return _first_line(text)
    kind, name = match.group(1), match.group(2).strip('"')
    if kind == "schema":
        return f"USAGE on schema {name} (CREATE too, to create or upgrade the tables)"
    if kind == "database":
        return f'CONNECT on database "{name}"'
    if kind == "sequence":
        return f"USAGE on sequence {name}"
    return f"{_TABLE_USE} on table {name}"


_BAD_LOGIN = re.compile(
    r"password authentication failed|no password supplied|authentication failed for user"
    rf"|role {_QUOTED} does not exist"
)


def _is_bad_login(text: str) -> bool:
    return _BAD_LOGIN.search(text) is not None


def _tls_required(where: str) -> ServerAccessError:
    return ServerAccessError(
        f"The database server at {where} refuses unencrypted connections. Add "
        f"sslmode=require (better: verify-full with the server's certificate) to "
        f"{URL_SETTING}, e.g. postgresql+psycopg://user@host/db?sslmode=require.",
        AccessProblem.TLS_REQUIRED,
    )


_UNREACHABLE = (
    ("Connection refused", "connection refused"),
    ("failed to resolve host", "host name not found"),
    ("could not translate host name", "host name not found"),
    ("Name or service not known", "host name not found"),
    ("timeout expired", "no answer in time"),
    ("timed out", "no answer in time"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("No such file or directory", "no server on that socket"),
    ("server closed the connection unexpectedly", "the connection was lost"),
    ("the database system is starting up", "the server is starting up"),
    ("the database system is shutting down", "the server is shutting down"),
)


def _unreachable_reason(text: str) -> str | None:
    for phrase, reason in _UNREACHABLE:
        if phrase in text:
            return reason
    return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    for prefix in ("connection failed: ", "FATAL:  "):
        line = line.replace(prefix, "")
    return line.strip()
