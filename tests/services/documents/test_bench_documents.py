"""The documents bench runs, and holds extraction to memory that does not follow the file."""

from __future__ import annotations

from pathlib import Path

from chatdesk.bench.documents import measure_document, write_big_pdf


def test_a_pdf_of_scans_is_read_without_keeping_its_images(tmp_path: Path) -> None:
    pdf = write_big_pdf(tmp_path / "big.pdf", megabytes=20)

    measure = measure_document(pdf)

    assert 18 < measure.file_mb < 25
    assert measure.pages == 140
    assert measure.chars > 140 * 3_000
    assert measure.peak_rss_mb - measure.rss_before_mb < measure.file_mb / 2
    assert measure.chunks > 100
    assert measure.query_ms_p95 < 200
