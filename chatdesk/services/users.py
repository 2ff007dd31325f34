"""The people whose chats the database holds.

On SQLite one person uses a file: the default user ``local``. On PostgreSQL the
person is the database login (``current_user``): row-level security (migration 0013)
keys every row on it, so the name chatdesk uses must be the login's, not a setting.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatdesk.services.errors import ValidationError
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.models import User

DEFAULT_USER_NAME = "local"

_GUARD = text(
    "SELECT r.rolsuper, r.rolbypassrls, pg_has_role(current_user, c.relowner, 'USAGE') "
    "FROM pg_roles r, pg_class c "
    "WHERE r.rolname = current_user AND c.oid = to_regclass('threads')"
)


def person_name(session: Session) -> str:
    """The name of the person using this connection: the login on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return str(session.scalar(text("SELECT current_user")))
    return DEFAULT_USER_NAME


class UserService:
    """Creates and finds users by name (by default: the person of the connection)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def current_name(self) -> str:
        """The person's name: ``local`` on SQLite, the database login on PostgreSQL."""
        with self._uow.read() as session:
            return person_name(session)

    def privacy_skipped(self) -> str | None:
        """Why row-level security does not apply to this login (None: it applies, or
        SQLite, one person's file). The table owner and superusers see every person's
        rows: the administrator's login, never a person's (``docs/TEAM.md``)."""
        with self._uow.read() as session:
            if session.get_bind().dialect.name != "postgresql":
                return None
            found = session.execute(_GUARD).first()
            login = person_name(session)
        if found is None:
            return None
        superuser, bypasses, owns = found
        if superuser:
            return f"{login} is a superuser"
        if bypasses:
            return f"{login} has BYPASSRLS"
        if owns:
            return f"{login} owns the tables"
        return None

    def find(self, name: str | None = None) -> int | None:
        """The id of the user called ``name`` (None: the person), if any (writes nothing)."""
        with self._uow.read() as session:
            wanted = person_name(session) if name is None else name.strip()
            return session.scalar(select(User.id).where(User.name == wanted))

    def ensure(self, name: str | None = None) -> int:
        """The id of the user called ``name`` (None: the person), created if missing."""
        with self._uow.read() as session:
            wanted = person_name(session) if name is None else name.strip()
            if not wanted:
                raise ValidationError("A user needs a name.")
            found = session.scalar(select(User.id).where(User.name == wanted))
        if found is not None:
            return found
        try:
            with self._uow.write() as (session, _changes):
                user = User(name=wanted)
                session.add(user)
                session.flush()
                return user.id
        except IntegrityError:  # a second desktop of the person made it meanwhile
            with self._uow.read() as session:
                made = session.scalar(select(User.id).where(User.name == wanted))
            if made is None:
                raise
            return made
