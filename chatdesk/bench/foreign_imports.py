"""A big ChatGPT export imported from the window: speed, memory and how the window felt.

``python -m chatdesk.bench.foreign_imports [--messages N]`` writes a ChatGPT-format
export of about N messages (conversations of ``--per-chat`` messages with branches,
about 0.9 KB a message), then, in a child process, opens the window (offscreen), starts
File > Import on it and, until the import ends, times the gaps between the turns of
the window's event loop (a 5 ms timer: a gap is how long the window could not
answer). JSON lines: ``foreign_import_file_mb``, ``foreign_import_messages_per_s``,
``foreign_import_peak_rss_mb`` (the child's peak resident memory), and
``foreign_import_gui_gap_ms`` (the longest gap; ``p99`` beside it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICK_MS = 5


def _child(data_dir: Path, export: Path) -> None:
    """Runs in the child: the window, the import, the gaps; prints one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from chatdesk.bench.imports import _peak_rss_mb
    from chatdesk.bench.probe import wait_until
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store
    from chatdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    store = open_store(f"sqlite:///{data_dir / 'chatdesk.db'}")
    services = Services(store)
    window = MainWindow(services, services.users.ensure())
    window.resize(1000, 700)
    window.show()
    wait_until(app, lambda: window.isVisible())
    gc.freeze()  # as the app does once its window is up (``ChatdeskApp.show``)
    gaps: list[float] = []
    last = time.perf_counter()

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(TICK_MS)
    started = time.perf_counter()
    task = window.chat_actions.import_chat(str(export))
    assert task is not None
    outcome: list[object] = []
    task.succeeded.connect(outcome.append)
    task.failed.connect(outcome.append)
    wait_until(app, lambda: window.chat_actions.import_task is None, timeout_s=7200)
    seconds = time.perf_counter() - started
    timer.stop()
    summary = outcome[0] if outcome else None
    messages = getattr(summary, "messages", 0)
    if not messages:
        raise SystemExit(f"the import failed: {summary!r}")
    gaps.sort()
    report = {
        "messages": messages,
        "chats": len(getattr(summary, "chats", [])),
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "gap_ms": gaps[-1] - TICK_MS if gaps else 0.0,
        "gap_p99_ms": gaps[int(len(gaps) * 0.99)] - TICK_MS if gaps else 0.0,
    }
    window.close()
    store.close()
    print(json.dumps(report))


def bench_foreign_import(messages: int, per_chat: int = 100) -> None:
    from chatdesk.bench.chatgpt_export import write_chatgpt_export
    from chatdesk.bench.probe import emit

    with tempfile.TemporaryDirectory(prefix="chatdesk-foreign-import-") as name:
        directory = Path(name)
        export = directory / "conversations.json"
        write_chatgpt_export(
            export, conversations=max(messages // per_chat, 1), messages_per_conversation=per_chat
        )
        data_dir = directory / "data"
        data_dir.mkdir()
        command = [sys.executable, "-m", "chatdesk.bench.foreign_imports", "--child"]
        done = subprocess.run(
            [*command, str(data_dir), str(export)],
            capture_output=True,
            text=True,
            timeout=7200,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the import child failed:\n{done.stderr[-3000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        file_mb = export.stat().st_size / 1e6
    emit(
        "foreign_import_file_mb", file_mb, "MB", messages=report["messages"], chats=report["chats"]
    )
    emit(
        "foreign_import_messages_per_s",
        report["messages"] / report["seconds"],
        "messages/s",
        seconds=round(report["seconds"], 1),
    )
    emit("foreign_import_peak_rss_mb", report["peak_rss_mb"], "MB", file_mb=round(file_mb))
    emit("foreign_import_gui_gap_ms", report["gap_ms"], "ms", p99=round(report["gap_p99_ms"], 1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatdesk.bench.foreign_imports", description=__doc__
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--per-chat", type=int, default=100)
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    bench_foreign_import(args.messages, args.per_chat)


if __name__ == "__main__":
    main()
