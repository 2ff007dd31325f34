"""The real app (its composition root, start-up recovery and window) as two people on
one PostgreSQL database, each with only the grants ``docs/TEAM.md`` gives: each window
lists only its person's chats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from tests.support.team_logins import Team
from tests.ui.conftest import OFFSCREEN_NOISE

pytestmark = [pytest.mark.postgres, pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)]


def test_each_window_lists_only_its_persons_chats(
    qtbot: QtBot, tmp_path: Path, chatdesk_loop: Any, team: Team
) -> None:
    titles = {team.alice: "Alice's window chat", team.bob: "Bob's window chat"}
    apps: dict[str, ChatdeskApp] = {}
    try:
        for login, title in titles.items():
            directory = tmp_path / login
            directory.mkdir()
            app = ChatdeskApp(open_store(team.url(login)), directory)
            qtbot.addWidget(app.window)
            apps[login] = app
            services: Services = app.services
            services.threads.create(app.user_id, title)
            app.window.thread_model.reload()
        for login, app in apps.items():
            app.show()
            assert app.services.users.current_name() == login
            listed = {
                app.services.threads.get(app.user_id, thread_id).title
                for thread_id in app.window.thread_model.thread_ids()
            }
            assert listed == {titles[login]}
        assert apps[team.alice].user_id != apps[team.bob].user_id
    finally:
        for app in apps.values():
            app.close()
            # hidden with its store closed: a later paint would read the closed store
            # (a new connection nobody closes)
            assert not app.window.isVisible()
