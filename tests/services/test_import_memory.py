"""Import streams: its peak memory does not follow the size of the file.

Each import runs in a fresh child process, which reports its own peak resident size
before and after, so the figures are the import's and not this test run's. Memory, not
time, so a busy machine does not change the verdict. Loading a file whole (before the
import streamed) grew the process by about 5.6 times the file's size.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.bench.imports import measure_import, write_big_export

SMALL, LARGE = 2_000, 24_000  # messages: about 1.7 MB and 21 MB of JSON
BUDGET_MB = 300


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_peak_memory_stays_flat_as_the_file_grows(tmp_path: Path) -> None:
    small = measure_import(write_big_export(tmp_path / "small.json", SMALL), tmp_path)
    large = measure_import(write_big_export(tmp_path / "large.json", LARGE), tmp_path)
    assert (small.messages, large.messages) == (SMALL, LARGE)
    growth_small = small.peak_rss_mb - small.rss_before_mb
    growth_large = large.peak_rss_mb - large.rss_before_mb
    extra_file_mb = large.file_mb - small.file_mb
    # 19 MB more of file may cost a few MB more (SQLite's page cache, one chunk of rows),
    # not the ~110 MB that parsing it whole took.
    assert growth_large - growth_small < 0.25 * extra_file_mb, (small, large)
    assert large.peak_rss_mb < BUDGET_MB, large
