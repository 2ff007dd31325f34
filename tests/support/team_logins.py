"""Two people on one PostgreSQL database: logins made the way ``docs/TEAM.md`` says.

``team_database(server, template)`` copies the session's database at head, creates a
group role and two logins in it (names unique per call: roles are the whole server's)
and grants the group ``chatdesk.store.team_grants.person_grants``; leaving it drops the
database and the roles.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, make_url

from chatdesk.store.team_grants import person_grants


@dataclasses.dataclass(frozen=True)
class Team:
    """A database at head with two person logins; ``owner_url`` is the administrator's."""

    owner_url: str
    alice: str
    bob: str

    def url(self, login: str) -> str:
        """The database's URL as ``login`` (the test server trusts local logins)."""
        return make_url(self.owner_url).set(username=login).render_as_string(hide_password=False)

    def engine(self, login: str) -> Engine:
        return create_engine(self.url(login), pool_pre_ping=False)


def _admin(server: Any, sql: str) -> None:
    with server._admin() as connection:
        connection.execute(sql)


@contextlib.contextmanager
def team_database(server: Any, template: str) -> Iterator[Team]:
    suffix = uuid.uuid4().hex[:8]
    name = f"team_{suffix}"
    group, alice, bob = f"people_{suffix}", f"alice_{suffix}", f"bob_{suffix}"
    url = server.create_database(name, template=template)
    _admin(server, f"CREATE ROLE {group} NOLOGIN")
    for login in (alice, bob):
        _admin(server, f"CREATE ROLE {login} LOGIN IN ROLE {group}")
    owner = create_engine(url)
    try:
        with owner.begin() as connection:
            for statement in person_grants(name, group):
                connection.exec_driver_sql(statement)
        yield Team(url, alice, bob)
    finally:
        owner.dispose()
        server.drop_database(name)
        for role in (alice, bob, group):
            _admin(server, f"DROP ROLE IF EXISTS {role}")
