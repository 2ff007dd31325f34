"""What the window looks like: text contrast, focus rings, the header when the chat is
narrow, and bubbles that never grow wider than the chat column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QFont, QFontMetrics, QTextCursor
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.ui.chat.code_scroll import code_blocks_of
from chatdesk.ui.chat.message_delegate import COLUMN_MAX
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.search.search_model import SnippetParts
from chatdesk.ui.search.search_panel import fit_snippet
from chatdesk.ui.theme import DARK, LIGHT, Colors, user_bubble_colors
from chatdesk.ui.threads.thread_header import COMPACT_TITLE_MIN_WIDTH
from chatdesk.vocabulary import MessageStatus

MakeWindow = Callable[[], MainWindow]

# (text colour, background) pairs a person reads; WCAG AA asks 4.5:1 of normal text.
TEXT_ON_BACKGROUND = [
    ("text", "chat"),
    ("text", "sidebar"),
    ("text", "assistant_bubble"),
    ("text", "code_bg"),
    ("text", "inline_code_bg"),
    ("text", "selection"),
    ("muted", "chat"),
    ("muted", "sidebar"),
    ("muted", "window"),
    ("muted", "assistant_bubble"),
    ("muted", "hover"),
    ("muted", "selection"),
    ("user_text", "user_bubble"),
    ("user_muted", "user_bubble"),
    ("accent_text", "accent"),
    ("accent", "chat"),
    ("accent", "assistant_bubble"),
    ("link", "assistant_bubble"),
    ("link", "code_bg"),
    ("error", "assistant_bubble"),
]


def _luminance(hex_color: str) -> float:
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("colors", [LIGHT, DARK], ids=["light", "dark"])
def test_text_colours_meet_wcag_aa(colors: Colors) -> None:
    low = {
        f"{fg} on {bg}": round(contrast(getattr(colors, fg), getattr(colors, bg)), 2)
        for fg, bg in TEXT_ON_BACKGROUND
        if contrast(getattr(colors, fg), getattr(colors, bg)) < 4.5
    }
    assert low == {}


@pytest.mark.parametrize("colors", [LIGHT, DARK], ids=["light", "dark"])
def test_markdown_in_a_persons_bubble_stays_readable(colors: Colors) -> None:
    """Inline code and code blocks inside the blue bubble: light text on dark grounds."""
    mine = user_bubble_colors(colors)
    pairs = [("text", "inline_code_bg"), ("text", "code_bg"), ("link", "code_bg")]
    low = {
        f"{fg} on {bg}": round(contrast(getattr(mine, fg), getattr(mine, bg)), 2)
        for fg, bg in pairs
        if contrast(getattr(mine, fg), getattr(mine, bg)) < 4.5
    }
    assert low == {}
    assert mine.text == colors.user_text


def test_the_composer_frame_shows_where_the_focus_is(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window()
    frame = window.composer.frame
    window.composer.edit.setFocus()
    qtbot.waitUntil(lambda: frame.property("focused") is True)
    window.sidebar.search.setFocus()
    qtbot.waitUntil(lambda: frame.property("focused") is False)


def test_a_narrow_chat_drops_the_captions_and_keeps_title_and_pickers_readable(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    title = "Speed up the report pipeline (Python, SQL, JS)"
    thread = ui_services.threads.create(me, title)
    window = make_window()
    window.sidebar.select_thread(thread.id)
    window.resize(1000, 650)
    window.execution_panel.show()  # Run details beside the chat
    header = window.header
    qtbot.waitUntil(lambda: header.width() < 700 and header.compact)
    qtbot.wait(50)
    shown = header.title_label
    assert shown.width() >= COMPACT_TITLE_MIN_WIDTH
    for combo in (header.crew_combo, header.model_combo):
        assert combo.width() >= combo.minimumSizeHint().width()  # never clipped mid-word
    assert header.model_combo.width() < header.model_combo.sizeHint().width()  # elided
    assert shown.geometry().right() < header.crew_combo.geometry().left()


def test_in_a_narrow_header_the_pickers_elide_before_the_title_does(
    qtbot: QtBot, make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(
        me, "Weekend in Lisbon with the family", model="openai/gpt-4o-mini-2024-07-18"
    )
    window = make_window()
    window.sidebar.select_thread(thread.id)
    window.resize(860, 650)
    header = window.header
    qtbot.waitUntil(lambda: header.compact)
    qtbot.wait(50)
    assert header.title_label.width() >= 100  # "Weekend in L…", not "Week…"
    assert header.model_combo.width() < header.model_combo.sizeHint().width()  # elided


def test_a_long_unbroken_line_stays_inside_the_chat_column(
    make_window: MakeWindow, ui_services: Services, me: int
) -> None:
    thread = ui_services.threads.create(me, "Long lines")
    token = "https://example.com/" + "x" * 600
    both = f"{token}\n\n`{token}`\n\n```\n{token}\n```"
    sent = ui_services.messages.send(me, thread.id, both)  # a person's Markdown too
    assert sent.execution is not None
    ui_services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = ui_services.messages.add_reply(me, thread.id, sent.execution.id, both)
    window = make_window()
    window.resize(1000, 650)
    window.sidebar.select_thread(thread.id)
    view = window.message_view
    view.grab()
    viewport = view.viewport().width()
    model = window.message_model
    for message_id in (sent.message.id, reply.id):
        row = model.row_of(message_id)
        assert row is not None
        index = model.index(row)
        geo = view.delegate.geometry(QRect(0, 0, viewport, 0), index, view.font())
        assert geo.bubble.left() >= 0 and geo.bubble.right() <= viewport
        assert geo.bubble.width() <= min(COLUMN_MAX, viewport)
        doc = view.delegate.cached_document(message_id)
        assert doc is not None
        # Prose and inline code wrap; the code block keeps its line whole and scrolls.
        wide = [block for block in code_blocks_of(doc) if block.overflow > 0]
        assert len(wide) == 1
        assert all(block.inner.right() <= geo.text.width() for block in wide)
        block = doc.begin()
        while block.isValid():
            if QTextCursor(block).currentTable() is None:
                lines = block.layout()
                for n in range(lines.lineCount()):
                    assert lines.lineAt(n).naturalTextWidth() <= geo.text.width()
            block = block.next()


def test_a_search_snippet_brings_a_late_match_into_view(qapp: Any) -> None:
    text = (
        "…A report table written nightly and read by customers of every region "
        "wants one composite index on the day column"
    )
    start = text.index("index")
    parts = SnippetParts(text, ((start, len("index")),))
    font = QFont()
    width = QFontMetrics(font).horizontalAdvance("A report table written nightly")
    fitted = fit_snippet(parts, font, width)
    assert fitted.text.startswith("…") and fitted.text != text
    ((bold_start, bold_length),) = fitted.bold
    assert fitted.text[bold_start : bold_start + bold_length] == "index"
    assert fitted.text.index("composite index") < len(fitted.text) // 2
    early = SnippetParts(text, ((text.index("report"), len("report")),))
    assert fit_snippet(early, font, width) == early
