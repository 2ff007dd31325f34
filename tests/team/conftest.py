"""The team fixtures: one database at head with two person logins, per module."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests.support.team_logins import Team, team_database


@pytest.fixture(scope="module")
def team(postgres_server: object | None, postgres_at_head: str | None) -> Iterator[Team]:
    if postgres_server is None or postgres_at_head is None:
        pytest.skip("PostgreSQL is not installed here")
    with team_database(postgres_server, postgres_at_head) as made:
        yield made
        gc.collect()  # a connection a test left open warns here, in its own module
