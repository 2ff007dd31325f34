"""The bench against a PostgreSQL server: ``python -m chatdesk.bench --database-url ...``.

The server is given (a URL the person can write to); an empty database there is filled
with the same synthetic history as the SQLite bench (then ``ANALYZE``d, as autovacuum
would soon after), an existing chatdesk one is reused as it is. The figures are the
database's: ``build_s``, ``db_mb``, ``startup_s`` (the real app on that server, until the
thread list is painted), ``search_ms_p95``, ``search_no_match_ms_p95`` and
``open_thread_ms`` (the big thread, painted). Streaming, crews, imports and the rest
do not touch the server and stay with the SQLite bench.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from chatdesk.bench.history import HistorySize, build_history
from chatdesk.bench.probe import emit


def is_server_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL server (the only server chatdesk runs on)."""
    return make_url(url).get_backend_name() == "postgresql"


def needs_history(url: str) -> bool:
    """True for a database without chatdesk's tables (it gets the synthetic history)."""
    from chatdesk.store.connection import create_store_engine
    from chatdesk.store.migrate import inspect_engine

    engine = create_store_engine(url)
    try:
        state = inspect_engine(engine)
    finally:
        engine.dispose()
    return state.revision is None and not state.has_tables


def database_mb(url: str) -> float:
    from chatdesk.store.connection import create_store_engine

    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            size = connection.execute(text("SELECT pg_database_size(current_database())"))
            return float(size.scalar_one()) / 1e6
    finally:
        engine.dispose()


def bench_server(
    url: str,
    size: HistorySize,
    directory: Path,
    startup_runs: int,
    child_env: dict[str, str],
) -> None:
    """Print the server's figures (see the module); ``child_env`` names ``url``."""
    from chatdesk.bench.figures import no_match_ms_p95, search_ms_p95, startup_s

    if needs_history(url):
        built = build_history(url, size)
        emit("build_s", built.seconds, "s", messages=size.messages, threads=size.threads)
    emit("db_mb", database_mb(url), "MB")
    startups = [startup_s(child_env) for _ in range(startup_runs)]
    if startups:
        emit("startup_s", statistics.median(startups), "s", runs=len(startups), max=max(startups))
    emit("search_ms_p95", search_ms_p95(url, user_id=1), "ms", queries=20)
    emit("search_no_match_ms_p95", no_match_ms_p95(url, user_id=1), "ms", queries=20)
    opened = subprocess.run(
        [sys.executable, "-m", "chatdesk.bench.probe", "open", "1"],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    for line in opened.stdout.splitlines():
        if line.startswith("{"):
            print(line, flush=True)
    if opened.returncode != 0:
        print(opened.stderr[-3000:], file=sys.stderr)
        raise SystemExit(opened.returncode)
    del directory  # the data dir holds only the app's settings and logs here
