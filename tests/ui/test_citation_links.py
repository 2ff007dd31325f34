"""Citations kept on a reply are read as hostile data (an imported chat can carry
anything), painted as plain text under the bubble, and open only a file of the
question the reply answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.conversation import Outgoing
from chatdesk.services.records import ExecutionLogRecord
from chatdesk.ui.chat.citations import citations_of
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.notices import NoticeKind
from chatdesk.ui.trace.trace_text import describe_step
from chatdesk.vocabulary import MessageStatus
from tests.support import attached

HOSTILE_NAME = '<a href="file:///etc/passwd">x</a>\n\u202eevil.pdf'


def test_malformed_citations_are_left_out_and_names_kept_to_one_line() -> None:
    good = {
        "attachment": 3,
        "name": HOSTILE_NAME,
        "label": HOSTILE_NAME + ", page 2",
        "unit": "page",
        "first": 2,
        "last": 2,
    }
    odd = [
        "text",
        {**good, "attachment": "3"},
        {**good, "first": True},
        {**good, "unit": "script"},
        {**good, "first": -1},
        {**good, "label": 7},
    ]
    (link,) = citations_of({"citations": [*odd, good]})
    assert "\n" not in link.label and "\u202e" not in link.label
    assert link.label.startswith('<a href="file:///etc/passwd">x</a> ')  # characters, kept
    assert citations_of({"citations": "nope"}) == () and citations_of({}) == ()
    assert len(citations_of({"citations": [good] * 50})) == 20


def test_a_reply_shows_its_citations_and_opens_only_its_question_files(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    me: int,
    tmp_path: Path,
) -> None:
    other = ui_services.attachments.add(me, attached.pdf(tmp_path / "other.pdf", "elsewhere"))
    ui_services.conversation.send(me, Outgoing("keep this", None, attachments=[other]))
    thread = ui_services.threads.create(me, "Cited")
    sent = ui_services.messages.send(me, thread.id, "what does it say?")
    assert sent.execution is not None
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id, "It says hello.")
    ui_services.messages.set_status(me, reply.id, MessageStatus.COMPLETED)
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.COMPLETED)
    citation = {
        "attachment": other.id,
        "name": HOSTILE_NAME,
        "label": f"{HOSTILE_NAME}, page 1",
        "unit": "page",
        "first": 1,
        "last": 1,
    }
    ui_services.reply_notes.add(me, reply.id, citations=[citation], notes=["one was gone"])
    window = make_window()
    told: list[tuple[str, NoticeKind]] = []
    window.notices.shown.connect(lambda text, kind: told.append((text, kind)))
    window.sidebar.select_thread(thread.id)
    view = window.message_view
    model = view.model()
    row = model.rowCount() - 1
    index = model.index(row, 0)
    assert index.data(MessageRoles.MessageId) == reply.id
    (shown,) = index.data(MessageRoles.Citations)
    assert shown["attachment"] == other.id and "\n" not in shown["label"]
    assert "citations" in {bytes(n.data()).decode() for n in model.roleNames().values()}
    view.grab()  # painted as plain text: nothing to load, nothing to run

    geo = view.delegate.geometry(view.visualRect(index), index, view.font())
    assert len(geo.citations) == 1 and geo.bubble.contains(geo.citations[0])
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=geo.citations[0].center().toPoint()
    )

    (notice,) = told  # other.pdf is a file of another question: not opened
    assert notice[1] is NoticeKind.ERROR
    assert notice[0].endswith("is not a file of this question or chat.")


def test_run_details_lists_the_places_the_model_was_shown() -> None:
    detail = {
        "citations": [
            {"label": "report.pdf, page 4", "attachment": 1},
            {"label": "notes.md, whole document", "attachment": 2},
        ],
        "attachments": [1, 2],
        "chars": 5_120,
        "budget_chars": 16_000,
        "not_read": ["The model did not see gone.pdf: missing"],
    }
    step = ExecutionLogRecord(1, 1, 0, datetime.now(UTC), "documents_used", None, None, detail)
    text = describe_step(step)
    assert "Documents used" in text
    assert "Shown to the model (5,120 of 16,000 characters):" in text
    assert "    report.pdf, page 4\n    notes.md, whole document" in text
    assert "Not read:\n    The model did not see gone.pdf: missing" in text
    assert "citations:" not in text  # its own section, not the raw JSON


def test_a_citation_from_an_imported_chat_finds_its_file_by_name(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    me: int,
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("".join(f"line {n}\n" for n in range(1, 61)))
    mine = ui_services.attachments.add(me, notes)
    sent = ui_services.conversation.send(
        me, Outgoing("what is on line 40?", None, attachments=[mine])
    )
    assert sent.execution is not None
    thread_id = sent.message.thread_id
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = ui_services.messages.add_reply(me, thread_id, sent.execution.id, "Line 40.")
    ui_services.messages.set_status(me, reply.id, MessageStatus.COMPLETED)
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.COMPLETED)
    citation = {
        "attachment": mine.id + 1000,
        "name": "notes.txt",
        "label": "notes.txt, lines 38–42",
        "unit": "line",
        "first": 38,
        "last": 42,
    }
    ui_services.reply_notes.add(me, reply.id, citations=[citation])
    window = make_window()
    window.sidebar.select_thread(thread_id)
    view = window.message_view
    index = view.model().index(view.model().rowCount() - 1, 0)
    geo = view.delegate.geometry(view.visualRect(index), index, view.font())

    with qtbot.waitSignal(window.citation_opener.viewer_opened) as opened:
        qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=geo.citations[0].center().toPoint()
        )

    viewer = opened.args[0]
    assert viewer.selected_lines() == (38, 42)
    assert viewer.editor.textCursor().selectedText().startswith("line 38")
    viewer.close()
