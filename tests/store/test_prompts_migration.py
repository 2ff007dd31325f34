"""0010 adds ``prompts``: up from 0009 keeps every row, down drops only the prompts."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from chatdesk.services import Services
from chatdesk.store.connection import create_store_engine
from chatdesk.store.migrate import downgrade, open_store, upgrade


def test_prompts_come_and_go_with_0010_and_other_rows_stay(db_url: str) -> None:
    store = open_store(db_url)
    services = Services(store)
    me = services.users.ensure()
    thread = services.threads.create(me, "kept")
    services.messages.send(me, thread.id, "kept too")
    services.prompts.create(me, "Summary", "Summarise {{text}}")
    store.close()

    engine = create_store_engine(db_url)
    try:
        downgrade(engine, "0009")
        assert "prompts" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 1
        upgrade(engine, "0010")
        assert "prompts" in inspect(engine).get_table_names()
        with engine.begin() as connection:
            insert = text("INSERT INTO prompts (user_id, name, text) VALUES (:u, :n, 'x')")
            connection.execute(insert, {"u": me, "n": "again"})
            row = connection.execute(text("SELECT created_at, updated_at FROM prompts")).one()
            assert row[0] is not None and row[1] is not None
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"u": me, "n": "again"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"u": me + 1000, "n": "no such user"})
    finally:
        engine.dispose()

    reopened = open_store(db_url)
    try:
        assert [p.name for p in Services(reopened).prompts.list(me)] == ["again"]
    finally:
        reopened.close()
