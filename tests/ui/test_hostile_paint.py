"""Giant and malformed replies paint quickly, load nothing and are stored exactly.

Painting is timed as a person meets it: the window opens the thread and the message
list is painted (layout included), once cold and once warm.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.messages import MAX_USER_CONTENT_CHARS
from chatdesk.ui.chat.markdown_render import (
    DISPLAY_CHARS,
    SafeTextDocument,
    display_text,
    worth_markdown,
)
from chatdesk.ui.main_window import MainWindow
from tests.ui.test_untrusted_text import _open_thread_with_reply, assert_no_connection

PAINT_BUDGET_MS = 100.0

HOSTILE = {
    "one 1 MB line": "x" * 1_000_000,
    "1 MB of words on one line": "word " * 200_000,
    "deeply nested quotes": "> " * 2_000 + "deep",
    "deeply nested lists": "".join("  " * n + "- item\n" for n in range(500)),
    "deeply nested brackets": "[" * 20_000 + "x" + "]" * 20_000,
    "NUL and lone surrogates": "before\x00after \ud800 \udfff done",
    "file: images and links": "![a](file:///etc/passwd) [b](file:///etc/shadow)",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_reply_paints_within_budget_and_is_kept_exactly(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    me: int,
    listener: socket.socket,
    name: str,
) -> None:
    content = HOSTILE[name]
    window, reply = _open_thread_with_reply(make_window, ui_services, me, content)
    view = window.message_view
    timings = []
    for _ in range(2):  # cold (layout) and warm (cached layout)
        if not timings:
            view.delegate.clear_cache()
        started = time.perf_counter()
        view.viewport().repaint()
        timings.append((time.perf_counter() - started) * 1000)
    print(f"{name}: painted in {[round(t, 1) for t in timings]} ms")
    assert max(timings) < PAINT_BUDGET_MS, f"{name}: painted in {timings} ms"
    doc = view.delegate.cached_document(reply.id)
    assert isinstance(doc, SafeTextDocument) and doc.refused == []
    assert ui_services.messages.get(me, reply.id).content == content
    qtbot.wait(50)
    assert_no_connection(listener)


def test_display_text_cuts_giant_messages_and_breaks_long_runs() -> None:
    giant = "line of text\n" * 10_000
    shown = display_text(giant)
    assert len(shown) < DISPLAY_CHARS + 200 and "of 130,000 characters" in shown
    assert display_text("short *text*") == "short *text*"
    run = display_text("y" * 1_000)
    assert run.replace("\u200b", "") == "y" * 1_000 and max(map(len, run.split("\u200b"))) <= 60
    assert display_text("```\ncode\n" + "z\n" * 40_000).count("```") % 2 == 0  # fence closed


def test_markup_heavy_text_is_shown_as_text() -> None:
    assert worth_markdown("# Title\n\n*one* [two](http://x) `three`")
    assert not worth_markdown("[" * 5_000)


def test_an_oversized_message_gets_a_clear_error_and_the_draft_is_kept(
    qtbot: QtBot, make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long one")
    window = make_window()
    window.sidebar.select_thread(thread.id)
    too_long = "a" * (MAX_USER_CONTENT_CHARS + 1)
    window.composer.edit.insertPlainText(too_long)  # as if typed or pasted
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.composer.error_label.isVisible())
    assert f"{MAX_USER_CONTENT_CHARS:,}" in window.composer.error_label.text().replace(" ", ",")
    assert window.composer.text() == too_long  # nothing lost
    assert ui_services.messages.list(me, thread.id).messages == []
    window.close()  # and the draft survives the window
    assert ui_services.threads.get(me, thread.id).draft == too_long
