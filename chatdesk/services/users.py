"""The local users; chatdesk starts with one default user."""

from __future__ import annotations

from sqlalchemy import select

from chatdesk.services.errors import ValidationError
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.store.models import User

DEFAULT_USER_NAME = "local"


class UserService:
    """Creates and finds users by name."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def find(self, name: str = DEFAULT_USER_NAME) -> int | None:
        """The id of the user called ``name``, if there is one (writes nothing)."""
        with self._uow.read() as session:
            return session.scalar(select(User.id).where(User.name == name.strip()))

    def ensure(self, name: str = DEFAULT_USER_NAME) -> int:
        """The id of the user called ``name``, created if missing."""
        name = name.strip()
        if not name:
            raise ValidationError("A user needs a name.")
        with self._uow.read() as session:
            found = session.scalar(select(User.id).where(User.name == name))
        if found is not None:
            return found
        with self._uow.write() as (session, _changes):
            user = User(name=name)
            session.add(user)
            session.flush()
            return user.id
