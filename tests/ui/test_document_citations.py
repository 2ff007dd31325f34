"""Attached documents reach the model, and the reply cites them: end to end.

The real app (window, coordinator, store, the crew worker running CrewAI) talks real
HTTP to the fake OpenAI-compatible server, which records every request body. Files
are real (UTF-8 text, fpdf2 PDFs), attached through the Attach button and read by the
real extraction. Checked: a small document goes to the model whole, a long one as its
best passages only (those holding the question's words); the ``documents_used`` step
is stored and Run details reads it; the citations sit on the reply and under its
bubble, and a click opens the document at its place (a text file in the in-app viewer
at its lines, a PDF with the system, caught by Qt's own URL-handler seam); the text
read when attaching is what the run uses; a stored copy gone from the data dir gives
a note and the answer still comes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QListView, QPlainTextEdit
from pytestqt.qtbot import QtBot

from chatdesk.app import ChatdeskApp
from chatdesk.config import data_dir, database_url
from chatdesk.engine.client import WorkerClient
from chatdesk.engine.document_block import DOCUMENTS_BEGIN, DOCUMENTS_END
from chatdesk.store.migrate import open_store
from chatdesk.testing import OFFSCREEN_NOISE, attach_files, chips
from chatdesk.testkit.fake_openai import FakeOpenAIServer, reply, running_server
from chatdesk.ui.chat.citations import DocumentViewer
from chatdesk.ui.chat.message_model import MessageRoles
from chatdesk.ui.notices import NoticeKind
from chatdesk.ui.trace.trace_text import describe_step
from tests.support import attached

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)

WORKER_READY_MS = 60_000
RUN_TIMEOUT_MS = 60_000
ANSWER = "The warranty ends on 4 March 2031 [log.txt]."
FILLER = "The harbour board went through the tide tables and the state of the quay. "
SPECIAL = "The gantry crane warranty expires on 4 March 2031."


class Desk:
    """The app wired to the fake server, and what a test does through its window."""

    def __init__(self, app: ChatdeskApp, server: FakeOpenAIServer, qtbot: QtBot) -> None:
        self.app = app
        self.server = server
        self.qtbot = qtbot
        self.notices: list[tuple[str, NoticeKind]] = []
        app.window.notices.shown.connect(lambda text, kind: self.notices.append((text, kind)))

    @property
    def view(self) -> Any:
        return self.app.window.findChild(QListView, "messageList")

    def ask(self, question: str, *paths: Path) -> int:
        """Attach ``paths``, send ``question``, wait for the reply to end; its row."""
        if paths:
            attach_files(self.qtbot, self.app.window, *paths)
        self.server.set_script([reply(f"Thought: I know.\nFinal Answer: {ANSWER}")])
        composer = self.app.window.findChild(QPlainTextEdit, "composer")
        composer.setFocus()
        self.qtbot.keyClicks(composer, question)
        self.qtbot.keyClick(composer, Qt.Key.Key_Return)
        model = self.view.model()

        def ended() -> bool:
            last = model.index(model.rowCount() - 1, 0)
            return bool(
                model.rowCount()
                and last.data(MessageRoles.Role) == "assistant"
                and last.data(MessageRoles.Status) in ("completed", "failed")
            )

        self.qtbot.waitUntil(ended, timeout=RUN_TIMEOUT_MS)
        return int(model.rowCount() - 1)

    def prompt(self) -> str:
        """The user turn of the last request the model server saw."""
        body = self.server.run_requests()[-1].body or {}
        turns = [m for m in body.get("messages", []) if m.get("role") == "user"]
        content = turns[-1]["content"]
        return content if isinstance(content, str) else str(content)

    def click_citation(self, row: int, number: int) -> None:
        view = self.view
        index = view.model().index(row, 0)
        view.scrollTo(index)
        geo = view.delegate.geometry(view.visualRect(index), index, view.font())
        at = geo.citations[number].center().toPoint()
        view.viewport().setFocus()
        self.qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)


class UrlCatcher(QObject):
    """Where ``QDesktopServices.openUrl`` sends ``file:`` URLs while a test runs."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def desk(
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chatdesk_loop: Any,
    chatdesk_worker: WorkerClient,
) -> Iterator[Desk]:
    with running_server() as server:
        monkeypatch.setenv("CHATDESK_DATA_DIR", str(tmp_path / "desk-data"))
        monkeypatch.setenv("CHATDESK_LLM_MODEL", "openai/fake-model")
        monkeypatch.setenv("CHATDESK_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("CHATDESK_LLM_API_KEY", "sk-documents-test")
        directory = data_dir()
        app = ChatdeskApp(open_store(database_url(directory)), directory, worker=chatdesk_worker)
        qtbot.addWidget(app.window)
        with qtbot.waitExposed(app.window):
            app.show()
        if not chatdesk_worker.is_ready:
            with qtbot.waitSignal(chatdesk_worker.worker_ready, timeout=WORKER_READY_MS):
                pass
        try:
            yield Desk(app, server, qtbot)
        finally:
            app.close()


def _long_log(path: Path, lines: int = 1_200, special_line: int = 871) -> Path:
    text = [f"{n:05d} {FILLER}" for n in range(1, lines + 1)]
    text[special_line - 1] = f"{special_line:05d} {SPECIAL}"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def test_a_small_note_goes_whole_a_long_log_as_its_best_lines_and_a_citation_opens_there(
    desk: Desk, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Crane\n\nAsk the <b>yard</b> about spare parts.\n", encoding="utf-8")
    log = _long_log(tmp_path / "log.txt")

    row = desk.ask("When does the crane warranty expire?", notes, log)

    prompt = desk.prompt()
    block = prompt[prompt.index(f"\n{DOCUMENTS_BEGIN}\n") : prompt.index(f"\n{DOCUMENTS_END}")]
    assert "[notes.md]\n# Crane\n\nAsk the <b>yard</b> about spare parts." in block
    assert SPECIAL in block and "[log.txt, lines " in block
    assert block.count(FILLER) < 100  # a few passages of the 1,200 lines
    reply_index = desk.view.model().index(row, 0)
    assert reply_index.data(MessageRoles.Status) == "completed"
    citations = reply_index.data(MessageRoles.Citations)
    assert citations[0]["name"] == "notes.md"
    assert citations[0]["label"] == "notes.md, whole document"
    passages = [c for c in citations if c["name"] == "log.txt"]
    assert passages and any(c["first"] <= 871 <= c["last"] for c in passages)

    execution_id = reply_index.data(MessageRoles.ExecutionId)
    app = desk.app
    steps = app.services.executions.logs(app.user_id, execution_id)
    (used,) = [step for step in steps if step.event == "documents_used"]
    assert {c["attachment"] for c in used.detail["citations"]} == {
        c["attachment"] for c in citations
    }
    described = describe_step(used)
    assert "Documents used" in described and "log.txt, lines" in described

    number = next(n for n, c in enumerate(citations) if c["first"] <= 871 <= c["last"])
    with desk.qtbot.waitSignal(app.window.citation_opener.viewer_opened) as opened:
        desk.click_citation(row, number)
    viewer = opened.args[0]
    assert isinstance(viewer, DocumentViewer) and viewer.objectName() == "documentViewer"
    first, last = viewer.selected_lines()
    assert (first, last) == (citations[number]["first"], citations[number]["last"])
    assert SPECIAL in viewer.editor.textCursor().selectedText()
    viewer.close()


def test_a_long_pdf_read_at_attach_is_not_read_again_and_its_citation_opens_with_the_system(
    desk: Desk, tmp_path: Path
) -> None:
    pages = [f"Page {n}. " + FILLER * 20 for n in range(1, 41)]
    pages[26] = "Page 27. " + FILLER * 4 + SPECIAL
    pdf = attached.pdf_pages(tmp_path / "minutes.pdf", pages)
    texts = desk.app.services.document_texts

    row = desk.ask("When does the crane warranty expire?", pdf)

    assert texts.extractions == 1  # at attach time; the run found the kept text
    prompt = desk.prompt()
    assert SPECIAL in " ".join(prompt.split()) and "[minutes.pdf, page" in prompt
    assert prompt.count("Page ") < 15  # the best pages, not forty
    citations = desk.view.model().index(row, 0).data(MessageRoles.Citations)
    number = next(n for n, c in enumerate(citations) if c["first"] <= 27 <= c["last"])
    kept = next(texts.root.rglob("*.json"))
    written = kept.stat().st_mtime_ns

    time.sleep(0.01)  # an mtime a rewrite would change
    desk.ask("And who signed it?")  # no new file: history only
    desk.ask("Which page says so?", pdf)  # the same content attached again
    assert texts.extractions == 1 and kept.stat().st_mtime_ns == written

    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")  # type: ignore[arg-type]
    try:
        desk.click_citation(row, number)
        desk.qtbot.waitUntil(lambda: bool(catcher.urls))
    finally:
        QDesktopServices.unsetUrlHandler("file")
    (url,) = catcher.urls
    record = desk.app.services.attachments.for_message(
        desk.app.user_id, desk.view.model().index(row - 1, 0).data(MessageRoles.MessageId)
    )[0]
    stored = desk.app.services.attachments.path_of(desk.app.user_id, record.id)
    assert url.toLocalFile() == str(stored) and not url.hasFragment()
    label = citations[number]["label"].removeprefix("minutes.pdf, ")
    assert (f"minutes.pdf opened; the passage is at {label}.", NoticeKind.INFO) in desk.notices


def test_a_document_gone_from_the_data_dir_gives_a_note_and_the_answer_still_comes(
    desk: Desk, tmp_path: Path
) -> None:
    app = desk.app
    report = attached.pdf(tmp_path / "report.pdf", "The quay needs new bollards.")
    attach_files(desk.qtbot, app.window, report)
    (record,) = app.window.attaching.ready()
    app.services.attachments.path_of(app.user_id, record.id).unlink()

    row = desk.ask("What does the report say?")

    index = desk.view.model().index(row, 0)
    assert index.data(MessageRoles.Status) == "completed"
    assert index.data(MessageRoles.Content) == ANSWER
    notes = index.data(MessageRoles.Record).metadata["notes"]
    assert len(notes) == 1 and notes[0].startswith("The model did not see report.pdf")
    assert DOCUMENTS_BEGIN not in desk.prompt() and "bollards" not in desk.prompt()
    assert index.data(MessageRoles.Citations) == []


def test_a_document_sent_while_it_is_read_is_read_once_and_reaches_the_model(
    desk: Desk, tmp_path: Path
) -> None:
    pages = [f"Page {n}. " + FILLER * 30 for n in range(1, 301)]
    pages[150] = "Page 151. " + SPECIAL
    pdf = attached.pdf_pages(tmp_path / "thick.pdf", pages)
    window = desk.app.window
    attach_files(desk.qtbot, window, pdf, wait=False)
    desk.qtbot.waitUntil(lambda: chips(window)[0]["state"] == "reading", timeout=RUN_TIMEOUT_MS)
    texts = desk.app.services.document_texts
    assert not list(texts.root.rglob("*.json"))  # its text is not kept yet

    desk.ask("When does the crane warranty expire?")  # sent while the chip reads

    assert texts.extractions == 1  # the run waited for the chip's reading
    assert SPECIAL in " ".join(desk.prompt().split())
