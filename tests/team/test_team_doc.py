"""``docs/TEAM.md`` gives the grants the code and the tests use, word for word."""

from __future__ import annotations

from pathlib import Path

from chatdesk.store.base import Base
from chatdesk.store.team_grants import TABLE_GRANTS, person_grants

TEAM_DOC = Path(__file__).resolve().parents[2] / "docs" / "TEAM.md"


def test_the_doc_lists_every_grant() -> None:
    doc = TEAM_DOC.read_text(encoding="utf-8")
    assert "## People and privacy" in doc
    for statement in person_grants("chatdesk"):
        assert f"{statement};" in doc, statement


def test_every_table_has_a_grant() -> None:
    """A table without one: chatdesk would start, then fail for every person."""
    assert set(Base.metadata.tables) | {"alembic_version"} == set(TABLE_GRANTS)
