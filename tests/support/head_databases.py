"""Test databases that start at head as copies of one migrated once a session (the
``sqlite_at_head`` and ``postgres_at_head`` fixtures of ``tests/conftest.py``)."""

from __future__ import annotations

import shutil

import pytest


def store_at_head(url: str, request: pytest.FixtureRequest) -> None:
    """Make the empty database at ``url`` a copy of the session's one at head."""
    if url.startswith("sqlite:///"):
        shutil.copyfile(request.getfixturevalue("sqlite_at_head"), url.removeprefix("sqlite:///"))
        return
    server = request.getfixturevalue("postgres_server")
    name = url.rsplit("/", 1)[1]
    server.drop_database(name)
    server.create_database(name, template=request.getfixturevalue("postgres_at_head"))
