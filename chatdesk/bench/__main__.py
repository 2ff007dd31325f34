"""``python -m chatdesk.bench``: build a large history and print what a person would feel.

Prints one JSON object per line, ``{"metric": ..., "value": ..., "unit": ...}``:
``build_s``, ``db_mb``, ``startup_s`` (median of fresh processes until the thread list
is painted), ``open_thread_ms``, ``scroll_frame_ms_p99``, ``search_ms_p95``,
``stream_lag_ms_p99``/``_max``, ``crew_overhead_ms``, ``rss_mb`` and ``worker_rss_mb``, then
the import figures of ``chatdesk.bench.imports`` (``import_peak_rss_mb``, ...), the tool
figures of ``chatdesk.bench.tools`` (``tool_call_overhead_ms``, ...) and the tree figures
of ``chatdesk.bench.trees`` (``open_branchy_thread_ms``, ``version_switch_ms``, and
``tree_migration_s`` on the big history), and those of a 1,000,000-message ChatGPT
export imported in a window (``chatdesk.bench.foreign_imports``:
``foreign_import_messages_per_s``, ``_peak_rss_mb``, ``_gui_gap_ms``), and a 50 MB PDF
turned into text and searched (``chatdesk.bench.documents``: ``documents_pages_per_s``,
``documents_peak_rss_mb``, ``documents_query_ms_p95``, ...), and a chat of 1,000 photos
scrolled (``chatdesk.bench.thumbnails``: ``thumbnail_scroll_frame_ms_p99``,
``thumbnail_gui_rss_mb``), and a chat of 500 formulas opened (``chatdesk.bench.formulas``:
``formula_open_thread_ms`` beside the same chat in words, ``formulas_shown_ms``).
The defaults are the issue's: 10,000 threads, 1,000,000 messages, one of 100,000.
``search_no_match_ms_p95`` times words no message holds (on PostgreSQL these once
walked the whole history). ``--database-url postgresql+psycopg://…`` takes the
database's figures on that server instead (``chatdesk.bench.server``), then two
clients' ``sync_latency_ms`` and ``sync_window_ms`` (``chatdesk.bench.sync_latency``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from chatdesk.bench.documents import bench_documents
from chatdesk.bench.figures import no_match_ms_p95, search_ms_p95, startup_s
from chatdesk.bench.foreign_imports import bench_foreign_import
from chatdesk.bench.formulas import bench_formulas
from chatdesk.bench.history import HistorySize, build_history
from chatdesk.bench.imports import bench_import
from chatdesk.bench.probe import emit
from chatdesk.bench.server import bench_server, is_server_url
from chatdesk.bench.thumbnails import bench_thumbnails
from chatdesk.bench.tools import bench_tools
from chatdesk.bench.trees import bench_trees


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chatdesk.bench", description=__doc__)
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--big-thread", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, help="reuse or keep the history here")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server's database (postgresql+psycopg://...): the history goes "
        "there and only the database's figures are taken (chatdesk.bench.server)",
    )
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument(
        "--sync-samples", type=int, default=200, help="writes timed across two clients (0: skip)"
    )
    parser.add_argument(
        "--import-messages", type=int, default=100_000, help="export to import (0: skip)"
    )
    parser.add_argument("--tool-calls", type=int, default=30, help="MCP calls to time (0: skip)")
    parser.add_argument(
        "--tree-messages", type=int, default=100_000, help="messages of the tree bench (0: skip)"
    )
    parser.add_argument(
        "--document-mb", type=float, default=50.0, help="size of the PDF to extract (0: skip)"
    )
    parser.add_argument(
        "--images", type=int, default=1_000, help="photos in the chat scrolled (0: skip)"
    )
    parser.add_argument(
        "--formulas", type=int, default=500, help="formulas in the chat opened (0: skip)"
    )
    parser.add_argument(
        "--chatgpt-messages",
        type=int,
        default=1_000_000,
        help="messages of the ChatGPT-format export imported in a window (0: skip)",
    )
    return parser.parse_args(argv)


def _child_env(directory: Path, database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CHATDESK_DATA_DIR": str(directory), "QT_QPA_PLATFORM": "offscreen"})
    env.pop("CHATDESK_DATABASE_URL", None)
    if database_url is not None:
        env["CHATDESK_DATABASE_URL"] = database_url
    return env


def _startup_s(directory: Path) -> float:
    return startup_s(_child_env(directory))


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    own_dir = args.data_dir is None
    directory = args.data_dir or Path(tempfile.mkdtemp(prefix="chatdesk-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    size = HistorySize(args.threads, args.messages, args.big_thread)
    if args.database_url is not None:
        if not is_server_url(args.database_url):
            raise SystemExit(
                "--database-url must name a PostgreSQL database (postgresql+psycopg://…)"
            )
        from chatdesk.store.errors import StoreError

        env = _child_env(directory, args.database_url)
        try:
            bench_server(args.database_url, size, directory, args.startup_runs, env)
            if args.sync_samples > 0:  # two clients on one server
                from chatdesk.bench.sync_latency import bench_sync_latency

                bench_sync_latency(args.database_url, args.sync_samples)
        except StoreError as error:  # the server refused: its sentence, no traceback
            raise SystemExit(f"chatdesk.bench: {error}") from None
        if own_dir:
            import shutil

            shutil.rmtree(directory, ignore_errors=True)
        return
    database = directory / "chatdesk.db"
    url = f"sqlite:///{database}"
    if not database.exists():
        built = build_history(url, size)
        emit("build_s", built.seconds, "s", messages=size.messages, threads=size.threads)
    emit("db_mb", database.stat().st_size / 1e6, "MB")
    startups = [_startup_s(directory) for _ in range(args.startup_runs)]
    emit("startup_s", statistics.median(startups), "s", runs=len(startups), max=max(startups))
    emit("search_ms_p95", search_ms_p95(url, user_id=1), "ms", queries=20)
    emit("search_no_match_ms_p95", no_match_ms_p95(url, user_id=1), "ms", queries=20)
    session = subprocess.run(
        [sys.executable, "-m", "chatdesk.bench.probe", "session", "1"],
        env=_child_env(directory),
        capture_output=True,
        text=True,
        timeout=900,
    )
    for line in session.stdout.splitlines():
        if line.startswith("{"):
            print(json.dumps(json.loads(line)))
    if session.returncode != 0:
        print(session.stderr[-3000:], file=sys.stderr)
        raise SystemExit(session.returncode)
    if args.import_messages:
        bench_import(args.import_messages)
    if args.tool_calls:
        bench_tools(args.tool_calls)
    if args.tree_messages:
        bench_trees(args.tree_messages, migrate=database)
    if args.chatgpt_messages:
        bench_foreign_import(args.chatgpt_messages)
    if args.document_mb:
        bench_documents(args.document_mb)
    if args.images:
        bench_thumbnails(args.images)
    if args.formulas:
        bench_formulas(args.formulas)
    if own_dir:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
