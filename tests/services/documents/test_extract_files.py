"""What every kind shares: a file that is empty, gone, unreadable; and a worker thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chatdesk.services.documents.extract import extract
from chatdesk.services.documents.model import Document, DocumentError, Problem
from tests.services.documents.files import write_pdf


@pytest.mark.parametrize("kind", ["pdf", "docx", "text"])
def test_a_0_byte_file_is_refused_as_empty(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"empty.{kind}"
    path.touch()

    with pytest.raises(DocumentError) as raised:
        extract(path, kind)

    assert raised.value.problem is Problem.EMPTY
    assert f"empty.{kind} is empty (0 bytes)" in str(raised.value)


@pytest.mark.parametrize("kind", ["pdf", "docx", "text"])
def test_a_file_that_vanished_is_named(tmp_path: Path, kind: str) -> None:
    with pytest.raises(DocumentError) as raised:
        extract(tmp_path / "gone.pdf", kind)

    assert raised.value.problem is Problem.MISSING
    assert f"gone.pdf is no longer at {tmp_path}" in str(raised.value)


def test_a_file_chatdesk_may_not_read_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests run as root, whom chmod does not stop: the refusal is played."""
    path = tmp_path / "secret.txt"
    path.write_text("classified", encoding="utf-8")

    def refuse(self: Path, *_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)

    with pytest.raises(DocumentError) as raised:
        extract(path, "text")

    assert raised.value.problem is Problem.UNREADABLE
    assert "not allowed to read secret.txt" in str(raised.value)


def test_a_folder_is_not_a_document(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as raised:
        extract(tmp_path, "text")

    assert raised.value.problem is Problem.UNREADABLE


def test_extraction_runs_on_worker_threads_side_by_side(tmp_path: Path) -> None:
    paths = [
        write_pdf(tmp_path / f"doc{n}.pdf", [f"Document {n} page {page}" for page in range(1, 6)])
        for n in range(4)
    ]
    results: dict[int, Document] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            results[n] = extract(paths[n], "pdf")
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    for n in range(4):
        assert [part.text for part in results[n].parts][-1] == f"Document {n} page 5"


def test_cancel_from_another_thread_stops_a_worker(tmp_path: Path) -> None:
    """The window's Cancel comes from the GUI thread while the worker is on a page."""
    path = write_pdf(tmp_path / "long.pdf", [f"Page {n}" for n in range(200)])
    on_page_10 = threading.Event()
    stop = threading.Event()
    seen: list[int] = []
    outcome: list[DocumentError] = []

    def progress(done: int, _total: int) -> None:
        seen.append(done)
        if done == 10:
            on_page_10.set()
            stop.wait(10)  # a slow page, while the other thread presses Cancel

    def work() -> None:
        try:
            extract(path, "pdf", on_progress=progress, should_stop=stop.is_set)
        except DocumentError as error:
            outcome.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    assert on_page_10.wait(30)
    stop.set()
    worker.join(30)

    assert [error.problem for error in outcome] == [Problem.CANCELLED]
    assert max(seen) == 10
