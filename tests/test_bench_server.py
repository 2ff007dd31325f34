"""``python -m chatdesk.bench --database-url postgresql+psycopg://…`` runs, at a tiny size.

The real command against a fresh database of the suite's server: it builds the
history there and prints every database figure as a JSON line; a second run reuses
the history. A SQLite URL is refused with one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import die_with_parent

pytestmark = pytest.mark.postgres

FIGURES = {"db_mb", "startup_s", "search_ms_p95", "search_no_match_ms_p95", "open_thread_ms"}


@pytest.fixture
def bench_db(postgres_server: object | None) -> Iterator[str]:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    server: Any = postgres_server
    name = f"bench_{uuid.uuid4().hex[:10]}"
    url: str = server.create_database(name)
    yield url
    server.drop_database(name)


def _bench(
    url: str, tmp_path: Path, startups: int = 1, sync_samples: int = 0
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "chatdesk.bench",
            "--database-url",
            url,
            "--threads",
            "4",
            "--messages",
            "120",
            "--big-thread",
            "60",
            "--startup-runs",
            str(startups),
            "--sync-samples",
            str(sync_samples),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )


@pytest.mark.timeout(300)  # two bench runs, each starting real processes, on a busy machine
def test_the_bench_takes_the_servers_figures(bench_db: str, tmp_path: Path) -> None:
    done = _bench(bench_db, tmp_path)  # the sync figures: tests/services/test_bench_sync.py
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {json.loads(line)["metric"]: json.loads(line) for line in done.stdout.splitlines()}
    assert FIGURES | {"build_s"} <= figures.keys()
    assert figures["build_s"]["messages"] == 120
    assert all(figures[name]["value"] >= 0 for name in FIGURES)
    again = _bench(bench_db, tmp_path, startups=0)
    assert again.returncode == 0, again.stderr[-3000:]
    metrics = {json.loads(line)["metric"] for line in again.stdout.splitlines()}
    assert "build_s" not in metrics and FIGURES - {"startup_s"} <= metrics


def test_the_bench_refuses_a_url_that_is_no_server(tmp_path: Path) -> None:
    done = _bench(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    assert done.returncode != 0 and "PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
