"""A reply being written never flips a block to another type and back.

Streamed one character at a time, "Plan:\\n- one" passes through "Plan:\\n-", which Markdown
reads as a heading underlined by "-"; a reply stopped at ">" would end with an empty quote
bar. Each prefix is rendered as the bubble does and compared with the finished reply.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtGui import QFont, QTextDocument, QTextTable
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.chat.markdown_render import build_document, render_markdown, settled_text
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.theme import LIGHT
from chatdesk.vocabulary import MessageStatus

pytestmark = pytest.mark.usefixtures("qapp")

REPLY = (
    "# Plan\n"
    "Here is what to do:\n"
    "- first step\n"
    "- second step\n"
    "\n"
    "Then:\n"
    "1. build\n"
    "2. test\n"
    "\n"
    "> keep the receipts\n"
    "\n"
    "That is all.\n"
)


def _doc(markdown: str) -> QTextDocument:
    doc = build_document(render_markdown(markdown, LIGHT), QFont(), 420, LIGHT.link)
    doc.size()
    return doc


def _headings(doc: QTextDocument) -> list[str]:
    found, block = [], doc.firstBlock()
    while block.isValid():
        if block.blockFormat().headingLevel() > 0:
            found.append(block.text())
        block = block.next()
    return found


def _tables(doc: QTextDocument) -> int:
    return sum(isinstance(frame, QTextTable) for frame in doc.rootFrame().childFrames())


def test_no_prefix_of_a_streamed_reply_shows_a_heading_the_reply_does_not_have() -> None:
    final = _headings(_doc(REPLY))
    assert final == ["Plan"]
    for end in range(1, len(REPLY) + 1):
        shown = _headings(_doc(settled_text(REPLY[:end])))
        assert all(any(h.startswith(s) for h in final) for s in shown), (REPLY[:end], shown)


def test_without_holding_back_the_unfinished_line_the_list_flickers_as_a_heading() -> None:
    assert _headings(_doc("Here is what to do:\n-")) == ["Here is what to do:"]
    assert _headings(_doc(settled_text("Here is what to do:\n-"))) == []


def test_a_reply_stopped_at_a_quote_mark_draws_no_empty_quote_bar() -> None:
    assert _tables(_doc("Intro\n>")) == 1  # markdown-it's reading: an empty quote
    assert _tables(_doc(settled_text("Intro\n>"))) == 0


def test_only_a_line_of_marks_waits() -> None:
    assert settled_text("just -") == "just -"
    assert settled_text("x\n- item") == "x\n- item"
    assert settled_text("x\n    -") == "x\n    -"  # inside indented code: text
    assert settled_text("x\n12.") == "x\n"


def test_the_bubble_holds_back_the_line_while_streaming_and_shows_it_when_done(
    qtbot: QtBot, make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Streaming")
    sent = ui_services.messages.send(me, thread.id, "plan please")
    assert sent.execution is not None
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id, "Steps:\n-")
    assert reply.status is MessageStatus.PROCESSING  # a reply is written while it streams
    window = make_window()
    window.sidebar.select_thread(thread.id)
    view = window.message_view
    view.grab()
    streaming = view.delegate.cached_document(reply.id)
    assert streaming is not None
    assert _headings(streaming) == []
    assert streaming.toPlainText().strip() == "Steps:"

    ui_services.messages.set_status(me, reply.id, MessageStatus.COMPLETED)
    model = view.model()

    def shown_status() -> MessageStatus:
        for row in range(model.rowCount()):
            record = model.index(row, 0).data(MessageRoles.Record)
            if record.id == reply.id:
                return record.status  # type: ignore[no-any-return]
        raise AssertionError("the reply is not in the list")

    qtbot.waitUntil(lambda: shown_status() is MessageStatus.COMPLETED)
    view.grab()
    done = view.delegate.cached_document(reply.id)
    assert done is not None
    assert _headings(done) == ["Steps:"]  # what Markdown makes of the finished text
