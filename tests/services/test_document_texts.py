"""Attached documents' text: extracted once per content, kept private, re-read when the
kept copy is broken, and turned into a run's context (whole or the best passages) with
a note for a document that cannot be read.

Real files (fpdf2 PDFs, UTF-8 text) through the real attachment service and extraction.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from chatdesk.runs.run_documents import read_documents
from chatdesk.services import Services
from chatdesk.services.conversation import Outgoing
from chatdesk.services.document_texts import DocumentTexts
from chatdesk.services.documents.model import DocumentError, Problem
from chatdesk.services.records import AttachmentRecord, MessageRecord
from tests.support import attached


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: nothing here depends on the database kind (the services' own tests
    cover both)."""
    return f"sqlite:///{tmp_path / 'chatdesk.db'}"


FILLER = (
    "The harbour board met on a grey morning and went through the minutes of the "
    "previous session, the weather, the tide tables and the state of the quay. "
)


def _long_pdf(path: Path, pages: int = 40, special: int = 27) -> Path:
    texts = [f"Page {n}. " + FILLER * 8 for n in range(1, pages + 1)]
    texts[special - 1] = (
        f"Page {special}. " + FILLER * 3 + "The gantry crane warranty expires on 4 March 2031."
    )
    return attached.pdf_pages(path, texts)


def _send(services: Services, user_id: int, text: str, *paths: Path) -> MessageRecord:
    files = [services.attachments.add(user_id, path) for path in paths]
    return services.conversation.send(user_id, Outgoing(text, None, attachments=files)).message


def _stored(services: Services, user_id: int, record: AttachmentRecord) -> Path:
    return services.attachments.path_of(user_id, record.id)


def test_a_document_is_extracted_once_and_kept_private(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    pdf = _long_pdf(tmp_path / "report.pdf", pages=3, special=2)
    record = services.attachments.add(user_id, pdf)
    texts = services.document_texts
    path = _stored(services, user_id, record)
    first = texts.document(record.sha256, path, "pdf", "report.pdf")
    kept = texts.path(record.sha256)
    assert texts.extractions == 1 and first.name == "report.pdf" and first.places == 3
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    again = DocumentTexts(texts.root).document(record.sha256, path, "pdf", "minutes.pdf")
    assert again.name == "minutes.pdf" and again.parts == first.parts  # read from the cache
    assert texts.extractions == 1


def test_a_broken_cache_file_is_read_again(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    record = services.attachments.add(user_id, attached.pdf(tmp_path / "a.pdf", "Kept text"))
    texts = services.document_texts
    path = _stored(services, user_id, record)
    texts.document(record.sha256, path, "pdf", "a.pdf")
    texts.path(record.sha256).write_text('{"format": 1, "parts": [[1, ')  # torn
    document = texts.document(record.sha256, path, "pdf", "a.pdf")
    assert "Kept text" in document.parts[0].text and texts.extractions == 2
    assert json.loads(texts.path(record.sha256).read_text())["format"] == 1


def test_a_refusal_of_the_content_is_kept_a_missing_file_is_not(tmp_path: Path) -> None:
    texts = DocumentTexts(tmp_path / "texts")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n")
    digest = "ab" * 32
    for _ in range(2):
        with pytest.raises(DocumentError) as refused:
            texts.document(digest, blank, "text", "notes.txt")
        assert refused.value.problem is Problem.NO_TEXT and "notes.txt" in refused.value.message
    assert texts.extractions == 1
    gone = "cd" * 32
    for _ in range(2):
        with pytest.raises(DocumentError):
            texts.document(gone, tmp_path / "nothing.txt", "text", "x.txt")
    assert texts.extractions == 3 and not texts.path(gone).exists()


def test_sweep_drops_the_texts_of_files_no_longer_stored(tmp_path: Path) -> None:
    texts = DocumentTexts(tmp_path / "texts")
    note = tmp_path / "n.txt"
    note.write_text("a line\n")
    keep, drop = "ab" * 32, "cd" * 32
    for digest in (keep, drop):
        texts.document(digest, note, "text", "n.txt")
    assert texts.sweep({keep}) == 1
    assert texts.path(keep).exists() and not texts.path(drop).exists()


def test_a_small_text_goes_in_whole_with_its_citation(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Plan\n\nBuy rope.\nPaint the hull blue.\n")
    message = _send(services, user_id, "What colour is the hull?", notes)
    found = read_documents(services, user_id, message)
    assert found.text.startswith("[notes.md]\n# Plan") and "Paint the hull blue." in found.text
    assert found.notes == ()
    (citation,) = found.citations
    assert citation["name"] == "notes.md" and citation["label"] == "notes.md, whole document"
    assert found.step is not None and found.step.event == "documents_used"
    assert found.step.detail["citations"][0]["whole"] is True


def test_a_long_pdf_sends_only_the_best_pages(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    pdf = _long_pdf(tmp_path / "minutes.pdf")
    message = _send(services, user_id, "When does the crane warranty expire?", pdf)
    found = read_documents(services, user_id, message, budget_chars=6_000)
    assert len(found.text) <= 6_000 and "4 March 2031" in found.text
    assert "[minutes.pdf, page" in found.text
    first, last = found.citations[0]["first"], found.citations[0]["last"]
    assert isinstance(first, int) and isinstance(last, int) and first <= 27 <= last
    assert all(c["label"] != "minutes.pdf, whole document" for c in found.citations)
    assert len(found.citations) < 5  # a few passages, not forty pages


def test_a_stored_copy_gone_becomes_a_note_and_the_rest_still_goes(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("The kept file says hello.\n")
    gone = attached.pdf(tmp_path / "gone.pdf", "never seen")
    message = _send(services, user_id, "hello?", kept, gone)
    files = services.attachments.for_message(user_id, message.id)
    gone_record = next(f for f in files if f.file_name == "gone.pdf")
    os.unlink(_stored(services, user_id, gone_record))
    found = read_documents(services, user_id, message)
    assert "The kept file says hello." in found.text and "never seen" not in found.text
    (note,) = found.notes
    assert note.startswith("The model did not see gone.pdf")


def test_a_run_stopped_while_reading_keeps_nothing_half_read(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    pdf = _long_pdf(tmp_path / "minutes.pdf", pages=5, special=2)
    message = _send(services, user_id, "anything?", pdf)
    found = read_documents(services, user_id, message, should_stop=lambda: True)
    assert found.text == "" and found.notes == (
        "The model did not see minutes.pdf: Reading minutes.pdf was cancelled.",
    )
    (record,) = services.attachments.for_message(user_id, message.id)
    assert not services.document_texts.path(record.sha256).exists()  # read again next time


def test_a_word_document_is_cited_by_paragraph(
    services: Services, user_id: int, tmp_path: Path
) -> None:
    from docx import Document as WordDocument

    word = WordDocument()
    word.add_heading("Minutes", level=1)
    for n in range(1, 200):
        word.add_paragraph(f"Paragraph {n}. " + FILLER)
    word.add_paragraph("The gantry crane warranty expires on 4 March 2031.")
    path = tmp_path / "minutes.docx"
    word.save(str(path))
    message = _send(services, user_id, "When does the crane warranty expire?", path)
    found = read_documents(services, user_id, message, budget_chars=4_000)
    assert "4 March 2031" in found.text and '(under "Minutes")' in found.text
    best = found.citations[-1]
    assert best["unit"] == "paragraph" and str(best["label"]).startswith("minutes.docx, paragraph")
    assert isinstance(best["last"], int) and best["last"] == 201
