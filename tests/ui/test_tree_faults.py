"""Flip, delete and branch against a locked database: told, nothing half done, and fine
once the lock is gone. The lock is real: a second SQLite connection in ``BEGIN
EXCLUSIVE``, as another program holding the file would."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from chatdesk.ui.main_window import MainWindow
from tests.support.faults import hold_exclusive_lock, sqlite_file
from tests.support.gui_lag import GuiLagMonitor
from tests.ui.conftest import add_messages
from tests.ui.test_chat_actions import _records
from tests.ui.test_versions import _menu_action, _three_takes

MakeWindow = Callable[[], MainWindow]
STALL_BUDGET_MS = 1_000
"""Longest the GUI may stand still: a busy write waits ~0.1 s per attempt."""
pytestmark = pytest.mark.usefixtures("sqlite_only")


@pytest.fixture
def sqlite_only(ui_services: Services) -> None:
    if ui_services.store.engine.dialect.name != "sqlite":
        pytest.skip("the lock is SQLite's")


def _window(make_window: MakeWindow, services: Services, me: int) -> tuple[MainWindow, int]:
    thread_id, _question = _three_takes(services, me)
    window = make_window()
    window.resize(1000, 700)
    window.sidebar.select_thread(thread_id)
    return window, thread_id


def test_a_flip_into_a_locked_database_is_told_and_shows_what_is_stored(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window, thread_id = _window(make_window, ui_services, me)
    before = [m.content for m in _records(window)]
    take3 = _records(window)[3]
    switcher = window.message_view.version_switcher
    with (
        GuiLagMonitor().measuring() as stalls,
        hold_exclusive_lock(sqlite_file(ui_services)),
        qtbot.waitSignal(switcher.failed, timeout=10_000) as said,
    ):
        assert not switcher.flip(take3.id, -1)
    assert "Could not show that version" in said.args[0] and "busy" in said.args[0]
    assert stalls.app_lag_ms < STALL_BUDGET_MS, stalls.describe()
    assert [m.content for m in _records(window)] == before  # still take 3, as stored
    other = make_window()
    other.sidebar.select_thread(thread_id)
    assert [m.content for m in _records(other)] == before
    assert switcher.flip(take3.id, -1)  # the lock is gone: it works
    assert _records(window)[3].content == "take 2"


def test_a_delete_into_a_locked_database_deletes_nothing_and_says_so(
    qtbot: QtBot,
    make_window: MakeWindow,
    ui_services: Services,
    me: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window, thread_id = _window(make_window, ui_services, me)
    before = [m.content for m in _records(window)]
    monkeypatch.setattr(window.branch_actions, "confirm_delete", lambda _count: True)
    take3 = _records(window)[3]
    with hold_exclusive_lock(sqlite_file(ui_services)):
        _menu_action(window, take3.id, "Delete…").trigger()
        qtbot.waitUntil(lambda: "busy" in window.toast.label.text(), timeout=20_000)
    assert [m.content for m in _records(window)] == before
    stored = ui_services.messages.list(me, thread_id).messages
    assert [m.content for m in stored] == before


def test_a_branch_into_a_locked_database_makes_no_chat_and_says_so(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    window, thread_id = _window(make_window, ui_services, me)
    take3 = _records(window)[3]
    with hold_exclusive_lock(sqlite_file(ui_services)):
        _menu_action(window, take3.id, "Branch into new chat").trigger()
        qtbot.waitUntil(lambda: "busy" in window.toast.label.text(), timeout=20_000)
    assert window.current_thread_id == thread_id
    assert ui_services.threads.count(me) == 1


def test_paging_up_past_a_row_another_client_deleted_reads_the_path_again(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "long")
    add_messages(ui_services.store, thread.id, me, 60)
    window = make_window()
    window.sidebar.select_thread(thread.id)
    model = window.message_model
    top = _records(window)[0]
    assert model.has_older
    other = Services(open_store(str(ui_services.store.engine.url)))  # another desktop
    try:
        parent = ui_services.messages.get(me, top.id).parent_id
        assert parent is not None
        other.messages.delete(me, top.id)  # no change reaches this window's bus
    finally:
        other.store.close()
    # a page read ahead before the delete would still show as it was read (another
    # desktop's change reaches this one only when it reads again): none here
    model._ahead.clear()
    assert model.load_older() == 0  # the edge was gone: the path was read again
    shown = _records(window)
    assert shown and shown[-1].id == parent
    assert model.load_older() > 0  # and paging goes on from there
