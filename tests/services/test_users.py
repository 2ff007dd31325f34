"""Who the person is: ``local`` in a SQLite file, the database login on PostgreSQL."""

from __future__ import annotations

import threading

from chatdesk.services import Services


def test_the_person_is_local_on_sqlite_and_the_login_on_postgres(services: Services) -> None:
    dialect = services.store.engine.dialect.name
    name = services.users.current_name()
    expected = "local" if dialect == "sqlite" else services.store.engine.url.username
    assert name == expected
    user = services.users.ensure()
    assert services.users.find() == user
    assert services.users.ensure() == user  # found, not made twice
    assert services.users.find(name) == user


def test_privacy_is_not_a_question_in_a_sqlite_file(services: Services) -> None:
    if services.store.engine.dialect.name == "sqlite":
        assert services.users.privacy_skipped() is None
    else:  # the suite's login owns the tables: the administrator's view
        assert services.users.privacy_skipped() is not None


def _ensure_together(
    services: Services, name: str, start: threading.Barrier, found: list[int]
) -> None:
    start.wait()
    found.append(services.users.ensure(name))


def test_two_desktops_starting_together_get_one_user(services: Services) -> None:
    """Both find no user, both insert: the second one's unique conflict finds the first's."""
    for attempt in range(5):
        start = threading.Barrier(2)
        found: list[int] = []
        desktops = [
            threading.Thread(
                target=_ensure_together, args=(services, f"new person {attempt}", start, found)
            )
            for _ in range(2)
        ]
        for desktop in desktops:
            desktop.start()
        for desktop in desktops:
            desktop.join()
        assert len(found) == 2 and found[0] == found[1]
