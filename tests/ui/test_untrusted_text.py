"""Model output is untrusted: nothing it says may load a resource or open a link."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QTextDocument
from pytestqt.qtbot import QtBot

from chatdesk.services import Services
from chatdesk.services.records import MessageRecord
from chatdesk.ui.chat.markdown_render import (
    SafeTextDocument,
    build_document,
    is_openable_url,
    render_markdown,
)
from chatdesk.ui.chat.message_delegate import MessageDelegate
from chatdesk.ui.main_window import MainWindow
from chatdesk.ui.theme import DARK, LIGHT
from chatdesk.vocabulary import MessageStatus


def hostile_reply(port: int) -> str:
    return (
        f"![x](http://127.0.0.1:{port}/a.png)\n\n"
        "![y](file:///etc/passwd)\n\n"
        "![d](data:image/png;base64,iVBORw0KGgo=)\n\n"
        "[z](javascript:alert(1)) and [f](file:///etc/passwd)\n\n"
        f'<img src="http://127.0.0.1:{port}/b.png">\n\n'
        "<script>alert(1)</script>\n\n"
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/s.css">\n\n'
        f"[web](http://127.0.0.1:{port}/page)\n"
    )


def assert_no_connection(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        conn, _ = server.accept()
        conn.close()


def test_rendered_html_has_no_resources_or_unsafe_links() -> None:
    html = render_markdown(hostile_reply(9), LIGHT)
    assert "<img" not in html and "<script" not in html and "<link" not in html
    assert 'href="javascript' not in html and 'href="file' not in html
    assert 'href="data' not in html
    assert 'href="http://127.0.0.1:9/page"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_safe_document_refuses_every_resource(qapp: object) -> None:
    """(Laying out an image needs a QGuiApplication, hence ``qapp``.)"""
    doc = SafeTextDocument()
    for url in ("file:///etc/passwd", "http://127.0.0.1:1/a.png", "data:image/png;base64,AA=="):
        assert doc.loadResource(int(QTextDocument.ResourceType.ImageResource), QUrl(url)) is None
    assert len(doc.refused) == 3
    # Even markup that slipped through cannot fetch: the image stays empty.
    doc.setHtml('<img src="file:///etc/passwd"><img src="data:image/png;base64,AA==">')
    doc.setTextWidth(300)
    doc.size()
    assert "file:///etc/passwd" in doc.refused


def test_only_web_links_are_openable() -> None:
    assert is_openable_url("https://example.com/x")
    assert is_openable_url("http://example.com")
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "data:text/html,hi", "ftp://x/y"):
        assert not is_openable_url(bad)
    assert not is_openable_url("mailto:someone@example.com")


def test_code_blocks_are_highlighted_in_both_themes() -> None:
    for colors in (LIGHT, DARK):
        html = render_markdown("```python\ndef f():\n    return 1\n```", colors)
        assert 'style="color:' in html and colors.code_bg in html
    plain = render_markdown("```nosuchlanguage\n<b>x</b>\n```", LIGHT)
    assert "&lt;b&gt;x&lt;/b&gt;" in plain


def _point_of_text(doc: QTextDocument, text: str) -> QPointF:
    cursor = doc.find(text)
    assert not cursor.isNull(), text
    block = cursor.block()
    offset = cursor.selectionStart() - block.position() + 1
    line = block.layout().lineForTextPosition(offset)
    x = line.cursorToX(offset)[0]
    top = doc.documentLayout().blockBoundingRect(block).top()
    return QPointF(x + 1, top + line.y() + line.height() / 2)


def _open_thread_with_reply(
    make_window: Callable[[], MainWindow], services: Services, me: int, content: str
) -> tuple[MainWindow, MessageRecord]:
    thread = services.threads.create(me, "Hostile")
    sent = services.messages.send(me, thread.id, "show me something")
    assert sent.execution is not None
    services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
    reply = services.messages.add_reply(me, thread.id, sent.execution.id, content)
    services.messages.set_status(me, reply.id, MessageStatus.COMPLETED)
    services.messages.set_status(me, sent.message.id, MessageStatus.COMPLETED)
    window = make_window()
    window.sidebar.select_thread(thread.id)
    return window, reply


def test_hostile_reply_painted_in_the_window_contacts_nothing(
    qtbot: QtBot,
    make_window: Callable[[], MainWindow],
    ui_services: Services,
    me: int,
    listener: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    port = listener.getsockname()[1]
    window, reply = _open_thread_with_reply(make_window, ui_services, me, hostile_reply(port))
    view = window.message_view
    view.grab()  # paint every visible bubble now
    qtbot.wait(300)
    assert_no_connection(listener)

    delegate: MessageDelegate = view.delegate
    doc = delegate.cached_document(reply.id)
    assert isinstance(doc, SafeTextDocument)
    assert doc.refused == []  # nothing even asked to load
    text = doc.toPlainText()
    assert "<script>alert(1)</script>" in text and "<img src=" in text
    assert "[z](javascript:alert(1))" in text

    # Clicking links: the web link is handed to the desktop, nothing else ever is.
    row = window.message_model.row_of(reply.id)
    assert row is not None
    index = window.message_model.index(row)
    geo = delegate.geometry(view.visualRect(index), index, view.font())
    for label in ("web", "javascript", "file:///etc"):
        point = geo.text.topLeft() + _point_of_text(doc, label)
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point.toPoint())
    assert opened == [f"http://127.0.0.1:{port}/page"]
    window.on_link_activated("javascript:alert(1)")
    window.on_link_activated("file:///etc/passwd")
    assert opened == [f"http://127.0.0.1:{port}/page"]
    assert_no_connection(listener)


def test_document_layout_is_cached_not_rebuilt_on_paint(
    make_window: Callable[[], MainWindow], ui_services: Services, me: int
) -> None:
    window, reply = _open_thread_with_reply(
        make_window, ui_services, me, "Some **markdown** and `code`"
    )
    view = window.message_view
    view.grab()
    first = view.delegate.cached_document(reply.id)
    assert first is not None
    view.grab()
    view.grab()
    assert view.delegate.cached_document(reply.id) is first
    ui_services.messages.delete(me, reply.id)
    assert window.message_model.row_of(reply.id) is None
    assert build_document("<p>x</p>", view.font(), 100, "#000").toPlainText() == "x"
