"""How fast a big PDF becomes text and how fast its chunks are searched.

``python -m chatdesk.bench.documents [--mb 50]`` writes a PDF of about that size
(pages of dense text, and a photo-sized JPEG of noise every ten pages: the bulk of a
real 50 MB PDF is images), reads it in a child process with ``extract`` and prints
JSON lines: ``documents_pdf_mb``, ``documents_pages_per_s``, ``documents_peak_rss_mb``
and ``documents_rss_growth_mb`` (the child's peak, and its growth while extracting),
``documents_chunk_ms`` (cutting the text into chunks), ``documents_index_ms``
(building the FTS5 index over them) and ``documents_query_ms_p95`` (one question).
Writing the file takes a second or two: JPEGs go into a PDF as they are.

Then the same PDF is attached in a real window (another child, offscreen): the file
is copied in and its text read on background tasks while a 10 ms timer ticks on the
GUI thread; ``documents_attach_gap_ms_max`` is the longest the timer was late (the
issue's budget: 50 ms), ``documents_attach_gap_ms_p99`` its 99th percentile and
``documents_attach_s`` the time until the chip was ready, and
``documents_attach_rss_growth_mb`` how much the window's process grew meanwhile.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chatdesk.bench.imports import _peak_rss_mb
from chatdesk.services.attachment_types import MAX_DOCUMENT_BYTES

WORDS = (
    "harbour steel invoice river castle coffee budget review train garden crane pier "
    "contract schedule tender permit survey concrete"
).split()
QUESTIONS = (
    "When does the crane contract end?",
    "What did the survey say about the pier?",
    "Which invoices are late?",
    "concrete tender permit",
    "How did the budget change after the review?",
)
IMAGE_EVERY = 10
IMAGE_SIDE = 1200
LINES_A_PAGE = 60


@dataclass(frozen=True)
class DocumentMeasure:
    file_mb: float
    pages: int
    chars: int
    seconds: float
    rss_before_mb: float
    peak_rss_mb: float
    chunks: int
    chunk_ms: float
    index_ms: float
    query_ms_p95: float


def write_big_pdf(path: Path, megabytes: float) -> Path:
    """A PDF of about ``megabytes``: each image is ~1.4 MB, each ten pages bring one."""
    from fpdf import FPDF
    from PIL import Image

    rng = random.Random(19)
    noise = rng.randbytes(IMAGE_SIDE * IMAGE_SIDE * 3)
    images = max(1, round(megabytes / 1.4))
    pdf = FPDF()
    pdf.set_font("helvetica", size=9)
    for page in range(images * IMAGE_EVERY):
        pdf.add_page()
        for line in range(LINES_A_PAGE):
            pdf.text(10, 10 + 4.5 * line, " ".join(rng.choices(WORDS, k=14)))
        if page % IMAGE_EVERY == 0:
            shifted = noise[page:] + noise[:page]  # a different picture each time
            image = Image.frombytes("RGB", (IMAGE_SIDE, IMAGE_SIDE), shifted)
            encoded = io.BytesIO()
            image.save(encoded, format="JPEG", quality=92)
            pdf.image(encoded, x=10, y=200, w=60)
    pdf.output(str(path))
    return path


def measure_document(pdf: Path, timeout: float = 600) -> DocumentMeasure:
    """Extract, chunk, index and search ``pdf`` in a fresh child process."""
    command = [sys.executable, "-m", "chatdesk.bench.documents", "--child", str(pdf)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the document child failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return DocumentMeasure(file_mb=pdf.stat().st_size / 1e6, **report)


def _child(pdf: Path) -> None:
    """Runs in the child: one JSON line of what it measured."""
    from chatdesk.services.documents.chunks import chunk_document
    from chatdesk.services.documents.extract import extract
    from chatdesk.services.documents.retrieval import TextIndex

    before = _peak_rss_mb()
    started = time.perf_counter()
    document = extract(pdf, "pdf")
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    started = time.perf_counter()
    chunks = chunk_document(document)
    chunked = time.perf_counter()
    with TextIndex(chunk.text for chunk in chunks) as index:
        indexed = time.perf_counter()
        timings = []
        for _round in range(4):
            for question in QUESTIONS:
                asked = time.perf_counter()
                index.best(question, 8)
                timings.append((time.perf_counter() - asked) * 1000)
    report = {
        "pages": document.places,
        "chars": document.chars,
        "seconds": seconds,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "chunks": len(chunks),
        "chunk_ms": (chunked - started) * 1000,
        "index_ms": (indexed - chunked) * 1000,
        "query_ms_p95": statistics.quantiles(timings, n=20)[-1],
    }
    print(json.dumps(report))


TICK_MS = 10
ATTACH_MB = 48.0
"""The PDF attached when the one measured is over the attachment limit (50,000,000 bytes)."""


@dataclass(frozen=True)
class AttachMeasure:
    seconds: float
    gap_ms_max: float
    gap_ms_p99: float
    ticks: int
    state: str
    rss_growth_mb: float


def measure_attach(pdf: Path, timeout: float = 900) -> AttachMeasure:
    """Attach ``pdf`` in a real window in a fresh child process; how the GUI fared."""
    import os

    command = [sys.executable, "-m", "chatdesk.bench.documents", "--attach-child", str(pdf)]
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"the attach child failed:\n{done.stderr[-3000:]}")
    return AttachMeasure(**json.loads(done.stdout.strip().splitlines()[-1]))


def _attach_child(pdf: Path) -> None:
    """Runs in the child: a window on a fresh store attaches ``pdf``; one JSON line."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store
    from chatdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="chatdesk-attach-bench-") as name:
        root = Path(name)
        store = open_store(f"sqlite:///{root / 'bench.db'}", backup_dir=root / "backups")
        services = Services(store, attachments_dir=root / "attachments")
        window = MainWindow(services, services.users.ensure())
        window.show()
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
            last[0] = now

        timer = QTimer()
        timer.setInterval(TICK_MS)
        timer.timeout.connect(tick)
        for _ in range(20):  # the window shown and settled before measuring
            app.processEvents()
        gc.freeze()  # as the app does once its window painted (app._freeze_startup_heap)
        rss_before = _peak_rss_mb()
        started = time.perf_counter()
        last[0] = started
        timer.start()
        window.attaching.add_paths([pdf])
        model = window.composer.chip_model
        while time.perf_counter() - started < 600:
            app.processEvents()
            chips = model.chips()
            if chips and all(chip.state.value in ("ready", "failed") for chip in chips):
                break
            time.sleep(0.001)
        seconds = time.perf_counter() - started
        timer.stop()
        state = model.chips()[0].state.value
        window.close()
        store.close()
    gaps.sort()
    report = {
        "seconds": seconds,
        "gap_ms_max": gaps[-1] if gaps else 0.0,
        "gap_ms_p99": gaps[max(int(len(gaps) * 0.99) - 1, 0)] if gaps else 0.0,
        "ticks": len(gaps),
        "state": state,
        "rss_growth_mb": _peak_rss_mb() - rss_before,
    }
    print(json.dumps(report))


def bench_documents(megabytes: float) -> DocumentMeasure:
    """Write, measure and report (the JSON lines of the module doc)."""
    from chatdesk.bench.probe import emit

    with tempfile.TemporaryDirectory(prefix="chatdesk-documents-bench-") as name:
        pdf = Path(name) / "big.pdf"
        started = time.perf_counter()
        write_big_pdf(pdf, megabytes)
        written = time.perf_counter() - started
        measure = measure_document(pdf)
        if pdf.stat().st_size > MAX_DOCUMENT_BYTES:  # the bench's "50 MB" is 51 MB
            pdf = write_big_pdf(Path(name) / "attached.pdf", ATTACH_MB)
        attach = measure_attach(pdf)
    emit("documents_pdf_mb", measure.file_mb, "MB", pages=measure.pages, write_s=round(written, 1))
    emit("documents_pages_per_s", measure.pages / measure.seconds, "pages/s", chars=measure.chars)
    emit("documents_peak_rss_mb", measure.peak_rss_mb, "MB")
    emit("documents_rss_growth_mb", measure.peak_rss_mb - measure.rss_before_mb, "MB")
    emit("documents_chunk_ms", measure.chunk_ms, "ms", chunks=measure.chunks)
    emit("documents_index_ms", measure.index_ms, "ms")
    emit("documents_query_ms_p95", measure.query_ms_p95, "ms")
    emit("documents_attach_gap_ms_max", attach.gap_ms_max, "ms", ticks=attach.ticks)
    emit("documents_attach_gap_ms_p99", attach.gap_ms_p99, "ms")
    emit("documents_attach_s", attach.seconds, "s", state=attach.state)
    emit("documents_attach_rss_growth_mb", attach.rss_growth_mb, "MB")
    return measure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatdesk.bench.documents", description=__doc__)
    parser.add_argument("--mb", type=float, default=50.0, help="size of the PDF to write")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--attach-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--attach-only", type=Path, help="attach this PDF and report only that")
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return
    if args.attach_child:
        _attach_child(args.attach_child)
        return
    if args.attach_only:
        print(json.dumps(measure_attach(args.attach_only).__dict__))
        return
    bench_documents(args.mb)


if __name__ == "__main__":
    main()
