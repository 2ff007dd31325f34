"""The thread and message models: contracts, order, and incremental updates."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.store.migrate import Store
from chatdesk.ui.bridge import ChangeSignals
from chatdesk.ui.chat.message_model import MessageListModel, MessageRoles
from chatdesk.ui.threads import thread_model
from chatdesk.ui.threads.thread_model import ThreadListModel, ThreadRoles, one_line
from chatdesk.vocabulary import ExecutionStatus, MessageStatus
from tests.ui.conftest import add_messages


class Spy:
    """Records a model's structural signals, to prove updates are incremental."""

    def __init__(self, model: Any) -> None:
        self.events: list[tuple[Any, ...]] = []
        model.modelReset.connect(lambda: self.events.append(("reset",)))
        model.rowsInserted.connect(lambda _p, a, b: self.events.append(("insert", a, b)))
        model.rowsRemoved.connect(lambda _p, a, b: self.events.append(("remove", a, b)))
        model.rowsMoved.connect(lambda _p, a, b, _d, r: self.events.append(("move", a, b, r)))
        model.dataChanged.connect(
            lambda tl, br, roles: self.events.append(("data", tl.row(), tuple(roles)))
        )

    def kinds(self) -> list[Any]:
        return [e[0] for e in self.events]


def _thread_model(services: Services, me: int) -> tuple[ThreadListModel, ChangeSignals]:
    bridge = ChangeSignals(services.bus, me)
    model = ThreadListModel(services, me)
    bridge.thread_changed.connect(model.on_thread_changed)
    bridge.message_changed.connect(model.on_message_changed)
    model.reload()
    return model, bridge


def test_thread_model_contract_and_order(
    qtmodeltester: ModelTester, ui_services: Services, me: int
) -> None:
    a = ui_services.threads.create(me, "Alpha")
    b = ui_services.threads.create(me, "Beta")
    c = ui_services.threads.create(me, "Gamma")
    ui_services.messages.send(me, a.id, "hello a", triggers_execution=False)
    ui_services.threads.update(me, c.id, pinned=True)
    model, _bridge = _thread_model(ui_services, me)
    qtmodeltester.check(model)
    names = {bytes(v.data()).decode() for v in model.roleNames().values()}
    assert {"threadId", "title", "updatedAt", "preview", "pinned"} <= names
    assert model.thread_ids() == [c.id, a.id, b.id]  # pinned, then newest activity
    assert model.index(0).data(ThreadRoles.Group) == "Pinned"
    assert model.index(1).data(ThreadRoles.Group) == "Today"
    assert model.index(1).data(ThreadRoles.Preview) == "hello a"
    ui_services.threads.rename(me, b.id, '<img src="file:///etc/passwd">')
    tip = model.index(model.row_of(b.id) or 0).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == "<p>&lt;img src=&quot;file:///etc/passwd&quot;&gt;</p>"


def test_thread_model_follows_changes_incrementally(
    qtmodeltester: ModelTester, ui_services: Services, me: int
) -> None:
    a = ui_services.threads.create(me, "Alpha")
    b = ui_services.threads.create(me, "Beta")
    model, _bridge = _thread_model(ui_services, me)
    qtmodeltester.check(model)
    spy = Spy(model)

    new = ui_services.threads.create(me, "New one")
    assert model.thread_ids() == [new.id, b.id, a.id]
    ui_services.messages.send(me, a.id, "bump", triggers_execution=False)
    assert model.thread_ids()[0] == a.id
    ui_services.threads.rename(me, b.id, "Beta renamed")
    assert model.index(model.row_of(b.id) or 0).data(ThreadRoles.Title) == "Beta renamed"
    ui_services.threads.delete(me, new.id)
    assert new.id not in model.thread_ids()
    assert "reset" not in spy.kinds()
    assert {"insert", "move", "data", "remove"} <= set(spy.kinds())


def test_thread_model_rename_and_hide(ui_services: Services, me: int) -> None:
    a = ui_services.threads.create(me, "Alpha")
    model, _bridge = _thread_model(ui_services, me)
    failures: list[str] = []
    model.rename_failed.connect(lambda _id, reason: failures.append(reason))
    assert model.setData(model.index(0), "  Renamed   title ")
    assert ui_services.threads.get(me, a.id).title == "Renamed title"
    assert not model.setData(model.index(0), "   ")
    assert failures and "empty" in failures[0]
    assert model.hide(a.id) and model.rowCount() == 0
    ui_services.threads.rename(me, a.id, "Changed while hidden")
    assert model.rowCount() == 0
    assert model.unhide(a.id) == 0
    assert model.index(0).data(ThreadRoles.Title) == "Changed while hidden"


def test_thread_model_reads_pages_and_keeps_the_boundary(
    qtmodeltester: ModelTester, ui_services: Services, me: int, monkeypatch: Any
) -> None:
    """Only a page is read up front; live changes respect what has not been read yet."""
    monkeypatch.setattr(thread_model, "PAGE_SIZE", 5)
    threads = [ui_services.threads.create(me, f"Thread {n:02}") for n in range(12)]
    newest_first = [t.id for t in reversed(threads)]
    model, _bridge = _thread_model(ui_services, me)
    assert model.thread_ids() == newest_first[:5] and model.canFetchMore()
    model.fetchMore()
    assert model.thread_ids() == newest_first[:10]

    # The oldest thread, not read yet, becomes the newest: it appears at the top, once.
    ui_services.messages.send(me, threads[0].id, "bump", triggers_execution=False)
    assert model.thread_ids()[0] == threads[0].id
    # A read thread pushed past the boundary leaves until paging reaches it again.
    ui_services.threads.update(me, threads[11].id, pinned=True)
    ui_services.threads.update(me, threads[11].id, pinned=False)
    model.fetchMore()
    assert not model.canFetchMore()
    assert model.thread_ids() == [t.id for t in ui_services.threads.list(me)]

    model.set_title_filter("thread 0")  # ASCII case is ignored, as in the store
    assert model.rowCount() == 5
    model.fetchMore()
    matching = [t.id for t in ui_services.threads.list(me) if "Thread 0" in t.title]
    assert model.thread_ids() == matching and len(matching) == 10
    ui_services.threads.rename(me, threads[3].id, "Renamed away")
    assert threads[3].id not in model.thread_ids()
    ui_services.threads.rename(me, threads[11].id, "THREAD 0 again")
    expected = [t.id for t in ui_services.threads.list(me, title_contains="thread 0")]
    assert threads[11].id in expected and model.thread_ids() == expected
    qtmodeltester.check(model)  # (it pages with fetchMore too)


def test_thread_model_ensure_loaded_pages_to_an_old_thread(
    ui_services: Services, me: int, monkeypatch: Any
) -> None:
    monkeypatch.setattr(thread_model, "PAGE_SIZE", 3)
    threads = [ui_services.threads.create(me, f"T{n}") for n in range(10)]
    model, _bridge = _thread_model(ui_services, me)
    assert model.rowCount() == 3
    assert model.ensure_loaded(threads[0].id) == 9
    assert model.ensure_loaded(10_000) is None
    model.set_title_filter("T1")
    assert model.ensure_loaded(threads[2].id) is None


def test_a_thread_far_down_is_not_read_up_to(
    ui_services: Services, me: int, monkeypatch: Any
) -> None:
    """Opening an old thread reads at most MAX_PAGED_ROWS rows, yet its record is known."""
    monkeypatch.setattr(thread_model, "PAGE_SIZE", 2)
    monkeypatch.setattr(thread_model, "MAX_PAGED_ROWS", 4)
    threads = [ui_services.threads.create(me, f"T{n}") for n in range(10)]
    model, _bridge = _thread_model(ui_services, me)
    assert model.ensure_loaded(threads[0].id) is None
    assert model.rowCount() == 4
    record = model.record(threads[0].id)
    assert record is not None and record.title == "T0"


def test_preview_is_one_plain_line() -> None:
    assert one_line("# Title\n\nUse `read_csv` **now**") == "Title Use read_csv now"
    assert one_line("x" * 500).endswith("…")


def test_message_model_contract_paging_and_live_updates(
    qtmodeltester: ModelTester, ui_store: Store, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long")
    add_messages(ui_store, thread.id, me, 120)
    bridge = ChangeSignals(ui_services.bus, me)
    model = MessageListModel(ui_services, me)
    model.page_size = 50
    bridge.message_changed.connect(model.on_message_changed)
    bridge.execution_changed.connect(model.on_execution_changed)
    model.load_thread(thread.id)
    qtmodeltester.check(model)
    names = {bytes(v.data()).decode() for v in model.roleNames().values()}
    assert {"messageId", "role", "content", "status", "createdAt", "executionId"} <= names
    assert model.rowCount() == 50 and model.has_older
    first_id = model.index(0).data(MessageRoles.MessageId)
    assert model.load_older() == 50
    assert model.index(50).data(MessageRoles.MessageId) == first_id
    assert model.load_older() == 20 and not model.has_older
    assert model.load_older() == 0

    spy = Spy(model)
    sent = ui_services.messages.send(me, thread.id, "a question")
    assert spy.events[0] == ("insert", 120, 120)
    assert model.index(120).data(MessageRoles.ExecutionStatus) == "pending"
    assert model.active_execution_id() == sent.execution.id  # type: ignore[union-attr]
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id)  # type: ignore[union-attr]
    spy.events.clear()
    ui_services.messages.edit(me, reply.id, "partial **text**")
    ((kind, row, roles),) = spy.events
    assert (kind, row) == ("data", 121)
    assert MessageRoles.Content in roles and MessageRoles.Status not in roles
    ui_services.messages.set_status(me, reply.id, MessageStatus.FAILED)
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.FAILED)
    reply_index = model.index(121)
    assert reply_index.data(MessageRoles.Status) == "failed"
    assert reply_index.data(MessageRoles.Error)
    assert reply_index.data(MessageRoles.RetryTarget) == sent.message.id
    assert model.index(120).data(MessageRoles.CanRetry) is False  # Retry shows once
    assert model.active_execution_id() is None
    assert "reset" not in spy.kinds()
    qtmodeltester.check(model)


def test_message_model_ignores_other_threads(qtbot: QtBot, ui_services: Services, me: int) -> None:
    one = ui_services.threads.create(me, "One")
    two = ui_services.threads.create(me, "Two")
    bridge = ChangeSignals(ui_services.bus, me)
    model = MessageListModel(ui_services, me)
    bridge.message_changed.connect(model.on_message_changed)
    model.load_thread(one.id)
    ui_services.messages.send(me, two.id, "elsewhere")
    assert model.rowCount() == 0
    bridge.close()
    bridge.close()  # idempotent
    ui_services.messages.send(me, one.id, "after close")
    assert model.rowCount() == 0


def test_live_streamed_text_never_goes_back(ui_services: Services, me: int) -> None:
    thread = ui_services.threads.create(me, "Streaming")
    sent = ui_services.messages.send(me, thread.id, "go")
    assert sent.execution is not None
    bridge = ChangeSignals(ui_services.bus, me)
    model = MessageListModel(ui_services, me)
    live: dict[int, str] = {}  # what the run coordinator holds
    model.read_live_text_from(live.get)
    bridge.message_changed.connect(model.on_message_changed)
    model.load_thread(thread.id)
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id)
    row = model.row_of(reply.id)
    assert row is not None
    spy = Spy(model)
    live[reply.id] = "Hello wor"
    model.on_reply_text_changed(reply.id)
    assert model.index(row).data(MessageRoles.Content) == "Hello wor"
    assert model.index(row).data(MessageRoles.Record).content == "Hello wor"
    assert model.record(row).content == "Hello wor"
    assert spy.events[-1][0] == "data" and MessageRoles.Content in spy.events[-1][2]
    ui_services.messages.edit(me, reply.id, "Hello")  # the once-a-second save lags behind
    assert model.index(row).data(MessageRoles.Content) == "Hello wor"
    live[reply.id] = "Hello world, done."
    ui_services.messages.edit(me, reply.id, "Hello world, done.")
    ui_services.messages.set_status(me, reply.id, MessageStatus.COMPLETED)
    assert model.index(row).data(MessageRoles.Content) == "Hello world, done."
    spy.events.clear()
    live[reply.id] = "late frame"
    model.on_reply_text_changed(reply.id)  # ignored once the reply is final
    assert model.index(row).data(MessageRoles.Content) == "Hello world, done."
    assert spy.events == []


def test_a_chat_opened_again_mid_reply_shows_the_reply_as_far_as_it_has_come(
    ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Streaming")
    sent = ui_services.messages.send(me, thread.id, "go")
    assert sent.execution is not None
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id)
    live = {reply.id: "Streamed so far, not saved yet"}
    model = MessageListModel(ui_services, me)
    model.read_live_text_from(live.get)
    model.load_thread(thread.id)
    model.load_thread(None)
    model.load_thread(thread.id)
    row = model.row_of(reply.id)
    assert row is not None
    assert model.index(row).data(MessageRoles.Content) == "Streamed so far, not saved yet"
    assert model.last_reply() == model.record(row)
    assert ui_services.messages.get(me, reply.id).content == ""


def test_error_of_an_earlier_failed_run_is_read_from_its_execution(
    ui_store: Store, ui_services: Services, me: int
) -> None:
    from chatdesk.store.models import Execution

    thread = ui_services.threads.create(me, "Old failure")
    sent = ui_services.messages.send(me, thread.id, "go")
    assert sent.execution is not None
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.FAILED)
    with ui_store.session_factory.begin() as session:
        execution = session.get(Execution, sent.execution.id)
        assert execution is not None
        execution.error = "The model server did not answer."
    model = MessageListModel(ui_services, me)  # a fresh session: the bus said nothing
    model.load_thread(thread.id)
    assert model.index(0).data(MessageRoles.Error) == "The model server did not answer."
    assert model.index(0).data(MessageRoles.CanRetry) is True


def test_a_reply_with_no_words_yet_keeps_the_last_words_as_preview(
    ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Alpha")
    model, _bridge = _thread_model(ui_services, me)
    sent = ui_services.messages.send(me, thread.id, "Plan three days in Lisbon")
    assert sent.execution is not None
    assert model.index(0).data(ThreadRoles.Preview) == "Plan three days in Lisbon"
    start = ui_services.executions.start(me, sent.execution.id)  # an empty reply appears
    assert model.index(0).data(ThreadRoles.Preview) == "Plan three days in Lisbon"
    ui_services.executions.finish(
        me, start.execution.id, ExecutionStatus.COMPLETED, text="Day 1: Alfama"
    )
    assert model.index(0).data(ThreadRoles.Preview) == "Day 1: Alfama"
