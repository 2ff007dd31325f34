"""The documents bench attaches a big PDF in a real (offscreen) window and reports how
the GUI fared; the figure itself is the bench's to report, not a test's to time."""

from __future__ import annotations

from pathlib import Path

from chatdesk.bench.documents import measure_attach, write_big_pdf


def test_attaching_a_big_pdf_in_a_window_is_measured(tmp_path: Path) -> None:
    pdf = write_big_pdf(tmp_path / "big.pdf", megabytes=5)

    measure = measure_attach(pdf)

    assert measure.state == "ready"
    assert measure.ticks > 0 and measure.gap_ms_max >= measure.gap_ms_p99 >= 0
    print(f"attaching {pdf.stat().st_size / 1e6:.0f} MB: {measure}")
