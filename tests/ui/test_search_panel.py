"""Message search from the sidebar: results, opening one at its message, live updates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.search import HIGHLIGHT_END, HIGHLIGHT_START, SearchHit
from chatdesk.store.migrate import Store
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.search.search_model import (
    SearchResultsModel,
    SearchRoles,
    SnippetParts,
    parse_snippet,
)
from chatdesk.ui.search.search_panel import SearchPanel
from chatdesk.vocabulary import Role

from .conftest import add_messages

MakeWindow = Callable[[], MainWindow]
S, E = HIGHLIGHT_START, HIGHLIGHT_END


def _hit(message_id: int, thread_id: int = 1, snippet: str = f"a {S}word{E}") -> SearchHit:
    return SearchHit(message_id, thread_id, "Title", Role.USER, snippet, datetime.now(UTC))


def _search(qtbot: QtBot, window: MainWindow, text: str) -> SearchPanel:
    """Type ``text`` into the sidebar's search field and wait for its message results."""
    panel = window.search_panel
    window.sidebar.search.clear()
    window.sidebar.search.setFocus()
    qtbot.keyClicks(window.sidebar.search, text)
    qtbot.waitUntil(
        lambda: panel.model.query == " ".join(text.split()) and not panel.is_searching()
    )
    return panel


def _titles(panel: SearchPanel) -> list[str]:
    model = panel.model
    return [model.index(row).data(SearchRoles.ThreadTitle) for row in range(model.rowCount())]


def test_results_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = SearchResultsModel()
    model.set_hits("word", [_hit(9), _hit(8, thread_id=2), _hit(7)], has_more=True)
    qtmodeltester.check(model, force_py=True)
    model.append_hits([_hit(7), _hit(5, thread_id=2)], has_more=False)  # 7 is shown already
    assert [model.hit(row).message_id for row in range(model.rowCount())] == [9, 8, 7, 5]
    model.remove_thread(2)
    assert [model.hit(row).message_id for row in range(model.rowCount())] == [9, 7]
    qtmodeltester.check(model, force_py=True)
    names = {bytes(name.data()) for name in model.roleNames().values()}
    assert {b"messageId", b"threadId", b"threadTitle", b"snippet", b"createdAt"} <= names


def test_snippets_are_plain_text_with_bold_ranges() -> None:
    parts = parse_snippet(f"…the {S}Lisbon{E} <b>train</b>\n\n\u202eto {S}Sintra{E}…")
    assert parts.text == "…the Lisbon <b>train</b> to Sintra…"
    assert [parts.text[a : a + n] for a, n in parts.bold] == ["Lisbon", "Sintra"]
    assert parse_snippet(f"{E}stray {S}open").text == "stray open"  # unbalanced markers
    code = parse_snippet(f"```sql\nSELECT * FROM {S}orders{E}``` and **`bold`**")
    assert code.text == "SELECT * FROM orders and bold"  # Markdown marks dropped
    assert code.text[code.bold[0][0] :][: code.bold[0][1]] == "orders"
    assert parse_snippet(f"x {S}{E} y") == SnippetParts("x y", ())


def test_typing_shows_message_results_and_choosing_one_opens_it(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    trip = ui_services.threads.create(me, "Trip")
    ui_services.messages.send(me, trip.id, "Book the train to Lisbon", triggers_execution=False)
    ui_services.messages.send(me, trip.id, "Something else", triggers_execution=False)
    other = ui_services.threads.create(me, "Other")
    ui_services.messages.send(me, other.id, "unrelated", triggers_execution=False)
    window = make_window()
    window.sidebar.select_thread(other.id)

    panel = _search(qtbot, window, "lisb")
    assert panel.isVisible() and _titles(panel) == ["Trip"]
    parts = panel.model.index(0).data(SearchRoles.SnippetParts)
    assert parts.text == "Book the train to Lisbon"
    assert [parts.text[a : a + n] for a, n in parts.bold] == ["Lisbon"]
    assert window.current_thread_id == other.id  # typing never switches the open chat

    qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Down)  # no chat is called "lisb"
    assert panel.view.hasFocus() and panel.view.currentIndex().row() == 0
    qtbot.keyClick(panel.view, Qt.Key.Key_Return)
    assert window.current_thread_id == trip.id
    current = window.message_view.currentIndex()
    assert current.data() == "Book the train to Lisbon"
    assert window.message_view.visualRect(current).intersects(window.message_view.rect())
    assert window.sidebar.search.text() == "lisb"  # the search stays for the next result
    window.sidebar.search.clear()
    assert window.sidebar.current_thread_id() == trip.id


@pytest.mark.parametrize(
    "query", ['"', 'say "hi', "lisbon AND", "*", "NEAR(", "a OR b NOT c", "'; --", "^$"]
)
def test_query_syntax_from_the_field_never_errors(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int, query: str
) -> None:
    thread = ui_services.threads.create(me, "T")
    ui_services.messages.send(me, thread.id, 'say "hi" and lisbon near b', triggers_execution=False)
    window = make_window()
    panel = _search(qtbot, window, query)
    status = panel.status.text() if panel.stack.currentWidget() is panel.status else ""
    assert "not available" not in status and "error" not in status.lower()


def test_results_follow_new_and_deleted_messages_and_threads(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    keep = ui_services.threads.create(me, "Keep")
    gone = ui_services.threads.create(me, "Gone")
    ui_services.messages.send(me, gone.id, "walrus facts", triggers_execution=False)
    window = make_window()
    window.sidebar.select_thread(keep.id)
    panel = _search(qtbot, window, "walrus")
    assert _titles(panel) == ["Gone"]

    window.composer.set_text("another walrus")  # sent from the window, like a person
    window.on_send("another walrus")
    qtbot.waitUntil(lambda: _titles(panel) == ["Keep", "Gone"])

    window.on_delete(gone.id)  # hidden at once, deleted when Undo expires
    assert _titles(panel) == ["Keep"]
    panel.refresh()  # even a fresh query leaves the hidden chat out
    qtbot.wait(600)
    assert _titles(panel) == ["Keep"]
    window.pending_deletes.commit_all()
    assert [h.thread_id for h in ui_services.search.search(me, "walrus")] == [keep.id]
    qtbot.wait(600)  # the deletion's refresh has run
    assert _titles(panel) == ["Keep"]


def test_more_results_load_on_scroll(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, ui_store: Store, me: int
) -> None:
    thread = ui_services.threads.create(me, "Many")
    add_messages(ui_store, thread.id, me, 120)
    window = make_window()
    panel = _search(qtbot, window, "bubble")
    assert panel.model.rowCount() == 30 and panel.model.has_more
    panel.view.scrollToBottom()
    qtbot.waitUntil(lambda: panel.model.rowCount() > 30 and not panel.is_searching())
    for _ in range(5):
        panel.view.scrollToBottom()
        qtbot.waitUntil(lambda: not panel.is_searching())
    ids = [panel.model.hit(row).message_id for row in range(panel.model.rowCount())]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


def test_search_status_says_searching_then_what_was_found(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    """A tester (or a screen reader) can tell from ``searchStatus`` when a search is done."""
    trip = ui_services.threads.create(me, "Trip")
    ui_services.messages.send(me, trip.id, "Lisbon by train", triggers_execution=False)
    ui_services.messages.send(me, trip.id, "Lisbon by plane", triggers_execution=False)
    window = make_window()
    status = window.findChild(QLabel, "searchStatus")
    assert status is not None
    window.sidebar.search.setFocus()
    qtbot.keyClicks(window.sidebar.search, "lisbon")
    assert status.text() == "Searching…"
    qtbot.waitUntil(lambda: status.text() != "Searching…")
    assert status.text() == "2 messages match “lisbon”."
    qtbot.keyClicks(window.sidebar.search, " nowhere")
    assert status.text() == "Searching…"
    qtbot.waitUntil(lambda: status.text() != "Searching…")
    assert status.text() == "No messages match “lisbon nowhere”."
