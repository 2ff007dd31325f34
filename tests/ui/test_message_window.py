"""A thread opened far back in its history: a window around one message, paged both ways."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.events import Change, Entity
from chatdesk.store.migrate import Store
from chatdesk.ui.chat.message_model import MessageListModel
from chatdesk.ui.main_window import MainWindow

from .conftest import add_messages

MakeWindow = Callable[[], MainWindow]
COUNT = 3000


def _ids(model: MessageListModel) -> list[int]:
    return [model.record(row).id for row in range(model.rowCount())]


def _thread(services: Services, store: Store, me: int) -> tuple[int, list[int]]:
    thread = services.threads.create(me, "Long")
    add_messages(store, thread.id, me, COUNT)
    page = services.messages.list(me, thread.id, limit=1000)
    ids = [m.id for m in page.messages]
    while page.has_older:
        page = services.messages.list(me, thread.id, limit=1000, before_id=ids[0])
        ids[:0] = [m.id for m in page.messages]
    return thread.id, ids


def test_load_around_then_page_older_and_newer_to_the_live_end(
    qtmodeltester: ModelTester, ui_services: Services, ui_store: Store, me: int
) -> None:
    thread_id, ids = _thread(ui_services, ui_store, me)
    model = MessageListModel(ui_services, me)
    model.page_size = 200
    model.load_thread(thread_id)
    target = ids[COUNT // 2]
    row = model.load_around(target)
    assert row is not None and model.record(row).id == target
    assert _ids(model) == ids[COUNT // 2 - 199 : COUNT // 2 + 201]
    assert model.has_older and model.has_newer
    qtmodeltester.check(model, force_py=True)

    while model.load_older():  # a window of at most max_rows, always contiguous
        held = _ids(model)
        assert len(held) <= model.max_rows and held == ids[ids.index(held[0]) :][: len(held)]
    assert not model.has_older and _ids(model)[0] == ids[0] and model.has_newer
    while model.load_newer():
        held = _ids(model)
        assert len(held) <= model.max_rows and held == ids[ids.index(held[0]) :][: len(held)]
    held = _ids(model)
    assert not model.has_newer and held == ids[-len(held) :] and model.has_older
    row = model.load_around(target)
    assert row is not None and model.record(row).id == target
    assert model.load_around(target) == row  # already loaded: no reload


def test_new_messages_wait_for_paging_while_an_old_window_is_shown(
    ui_services: Services, ui_store: Store, me: int
) -> None:
    thread_id, ids = _thread(ui_services, ui_store, me)
    model = MessageListModel(ui_services, me)
    model.load_thread(thread_id)
    model.load_around(ids[100])
    before = _ids(model)
    # Connect the bus by hand (the window does it through ChangeSignals).
    unsubscribe = ui_services.bus.subscribe(_Forward(model))
    try:
        sent = ui_services.messages.send(me, thread_id, "new", triggers_execution=False).message
        assert _ids(model) == before  # not glued below a gap of 2,800 messages
        model.jump_to_newest()
        assert _ids(model)[-1] == sent.id and not model.has_newer
    finally:
        unsubscribe()


class _Forward:
    def __init__(self, model: MessageListModel) -> None:
        self.model = model

    def on_change(self, change: Change) -> None:
        if change.entity is Entity.MESSAGE:
            self.model.on_message_changed(change)


def test_the_window_reveals_an_old_message_pages_on_scroll_and_sending_jumps_back(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, ui_store: Store, me: int
) -> None:
    thread_id, ids = _thread(ui_services, ui_store, me)
    window = make_window()
    target = ids[COUNT // 2]
    window.on_search_result_chosen(thread_id, target)
    view, model = window.message_view, window.message_model
    assert window.current_thread_id == thread_id
    index = view.currentIndex()
    assert model.record(index.row()).id == target
    assert view.visualRect(index).intersects(view.viewport().rect())
    qtbot.wait(50)  # the open's own scroll-to-end must not move the revealed message away
    assert view.visualRect(view.currentIndex()).intersects(view.viewport().rect())

    newest_before = _ids(model)[-1]
    view.scrollToBottom()
    qtbot.waitUntil(lambda: _ids(model)[-1] > newest_before)
    oldest_before = _ids(model)[0]
    view.scrollToTop()
    qtbot.waitUntil(lambda: _ids(model)[0] < oldest_before)
    assert model.record(view.currentIndex().row()).id == target  # still current

    window.on_send("back to the present")
    assert not model.has_newer
    assert model.record(model.rowCount() - 1).content == "back to the present"
    qtbot.waitUntil(view.is_at_bottom)


def test_the_next_pages_are_read_and_laid_out_ahead_in_idle_time(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, ui_store: Store, me: int
) -> None:
    thread_id, ids = _thread(ui_services, ui_store, me)
    window = make_window()
    window.on_thread_selected(thread_id)
    model, view = window.message_model, window.message_view
    delegate = view.delegate
    newest_page = _ids(model)
    older = ids[ids.index(newest_page[0]) - model.page_size : ids.index(newest_page[0])]
    qtbot.waitUntil(lambda: not view._warmer.isActive())
    assert [m.id for m in model.upcoming(older=True)] == older
    assert all(delegate.cached_document(message_id) is not None for message_id in older)

    # Paging in that page reads nothing and lays out nothing more.
    reads: list[int] = []
    builds: list[int] = []
    ui_services.messages.list = _counting(ui_services.messages.list, reads)  # type: ignore[method-assign]
    delegate._document = _counting(delegate._document, builds, only_new=delegate)  # type: ignore[method-assign]
    during_load: list[tuple[int, int]] = []
    load_older = view.load_older

    def watched_load() -> int:
        before = (len(reads), len(builds))
        count = load_older()
        during_load.append((len(reads) - before[0], len(builds) - before[1]))
        return count

    view.load_older = watched_load  # type: ignore[method-assign]
    view.verticalScrollBar().setValue(0)  # near the top: the page comes in
    qtbot.waitUntil(lambda: _ids(model)[: model.page_size] == older)
    assert during_load[0] == (0, 0)  # no read, no Markdown layout in that frame

    # A change in the thread drops what was read ahead: it may be stale.
    ui_services.messages.send(me, thread_id, "new", triggers_execution=False)
    assert model.upcoming(older=True) == []
    qtbot.waitUntil(lambda: model.upcoming(older=True) != [])


def _counting(function, calls: list[int], only_new: object = None):  # type: ignore[no-untyped-def]
    """``function``, noting each call (for the delegate: only documents it had to build)."""

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        if only_new is None or only_new.cached_document(args[0].id) is None:  # type: ignore[attr-defined]
            calls.append(1)
        return function(*args, **kwargs)

    return counted
