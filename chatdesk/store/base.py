"""Declarative base, constraint naming convention and a UTC-only timestamp type.

The naming convention gives every constraint a stable name, so Alembic can drop and
recreate them on SQLite (batch mode) and PostgreSQL alike.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only zone the store keeps)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored and returned in UTC.

    SQLite keeps no zone, PostgreSQL keeps ``timestamptz``; either way Python sees an
    aware ``datetime`` in UTC, and naive values are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(stamp, datetime)
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)


ESCAPED_PREFIX = "\ue000chatdesk-escaped:"
"""Marks a value stored JSON-escaped (a private-use character starts it)."""


class ExactText(TypeDecorator[str]):
    """Text stored exactly as Python holds it, whatever a model sent.

    Lone surrogates (valid in JSON, invalid in UTF-8) cannot be encoded, and PostgreSQL
    refuses NUL characters; such rare values, and any that happen to start with the
    marker, are stored JSON-escaped behind ``ESCAPED_PREFIX`` and decoded on the way
    back. Everything else is stored as plain text, so search and SQL see it as is.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        needs_escape = value.startswith(ESCAPED_PREFIX) or (
            dialect.name == "postgresql" and "\x00" in value
        )
        if not needs_escape:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                needs_escape = True
        return ESCAPED_PREFIX + json.dumps(value) if needs_escape else value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None and value.startswith(ESCAPED_PREFIX):
            decoded = json.loads(value[len(ESCAPED_PREFIX) :])
            assert isinstance(decoded, str)
            return decoded
        return value


class Base(DeclarativeBase):
    """Base of every chatdesk table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
