"""Measurements taken inside a chatdesk GUI process (run by ``chatdesk.bench``).

``python -m chatdesk.bench.probe startup`` starts the real app (``chatdesk.app.main``)
and prints one line when the thread list has first been painted; the parent process
times that from its own spawn, so interpreter start-up and imports count, as a person
would feel them. ``python -m chatdesk.bench.probe session`` builds the real
``ChatdeskApp`` and measures opening and scrolling the big thread, event-loop lag
while a reply streams, crew overhead per reply, and memory. Both print JSON lines.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QAbstractItemView, QApplication, QWidget

_LOADED_AT = time.perf_counter()
STREAM_SECONDS = 10.0
STREAM_CHUNKS_PER_S = 1000
OVERHEAD_RUNS = 21
SCROLL_ROWS = 2000
LAG_TICK_MS = 5
FIRST_TOKEN_RUNS = 11
FIRST_TOKEN_REPLY = "Thought: I can answer.\nFinal Answer: The first words arrive quickly."


def emit(metric: str, value: float, unit: str, **extra: Any) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, **extra}))
    sys.stdout.flush()


class PaintWatcher(QObject):
    """Records when a widget is next painted."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.painted_at: float | None = None
        widget.installEventFilter(self)

    def reset(self) -> None:
        self.painted_at = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.painted_at is None:
            self.painted_at = time.perf_counter()
        return False


def wait_until(app: QApplication, condition: Any, timeout_s: float = 60.0) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.0005)
    return True


# -- startup ------------------------------------------------------------------------


def probe_startup() -> None:
    """Run the real app; print "painted" once the thread list shows, then quit."""
    app = QApplication(sys.argv[:1])

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            parent = watched.parent() if isinstance(watched, QWidget) else None
            if (
                event.type() == QEvent.Type.Paint
                and parent is not None
                and parent.objectName() == "threadList"
            ):
                print("painted", flush=True)
                app.removeEventFilter(self)
                QTimer.singleShot(0, app.quit)
            return False

    watcher = FirstPaint()
    app.installEventFilter(watcher)
    from chatdesk.app import main

    main([])


# -- session ------------------------------------------------------------------------


def probe_open(big_thread_id: int) -> None:
    """Only the open-thread figure (the server bench: the rest is not the database's)."""
    from chatdesk.app import ChatdeskApp
    from chatdesk.config import data_dir, database_url
    from chatdesk.store.migrate import open_store

    app = QApplication(sys.argv[:1])
    directory = data_dir()
    chat = ChatdeskApp(open_store(database_url(directory)), directory, start_worker_now=False)
    chat.show()
    view = chat.window.findChild(QAbstractItemView, "messageList")
    assert view is not None
    watcher = PaintWatcher(view.viewport())
    wait_until(app, lambda: chat.window.isVisible())
    app.processEvents()
    times = []
    for _ in range(5):
        chat.window.on_thread_selected(0)
        app.processEvents()
        watcher.reset()
        started = time.perf_counter()
        chat.window.on_thread_selected(big_thread_id)
        wait_until(app, lambda: watcher.painted_at is not None)
        assert watcher.painted_at is not None
        times.append((watcher.painted_at - started) * 1000)
    emit("open_thread_ms", statistics.median(times), "ms", runs=len(times), max=max(times))
    chat.close()


def probe_session(big_thread_id: int) -> None:
    import asyncio

    import qasync

    from chatdesk.app import ChatdeskApp
    from chatdesk.config import data_dir, database_url
    from chatdesk.engine.protocol import ModelConfig
    from chatdesk.store.migrate import open_store

    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    script: list[Any] = []
    provider: list[ModelConfig] = []  # set: replies come from a local HTTP provider

    def resolve(_thread: Any) -> ModelConfig:
        if provider:
            return provider[0]
        return ModelConfig(model="scripted", script=tuple(script), timeout_s=60)

    directory = data_dir()
    chat = ChatdeskApp(
        open_store(database_url(directory)),
        directory,
        resolve_model=resolve,
        start_worker_now=True,  # as chatdesk's main does
    )
    chat.show()
    ready_at: list[float] = []
    chat.worker.worker_ready.connect(lambda _event: ready_at.append(_seconds_since_launch()))
    chat.start_worker()
    window = chat.window
    view = window.findChild(QAbstractItemView, "messageList")
    assert view is not None
    watcher = PaintWatcher(view.viewport())
    wait_until(app, lambda: window.isVisible())
    app.processEvents()

    # Open the 100,000-message thread until its newest messages are painted (from no
    # open thread: the window may have restored this one as the last open).
    window.on_thread_selected(0)
    app.processEvents()
    watcher.reset()
    started = time.perf_counter()
    window.on_thread_selected(big_thread_id)
    wait_until(app, lambda: watcher.painted_at is not None)
    assert watcher.painted_at is not None
    emit("open_thread_ms", (watcher.painted_at - started) * 1000, "ms")

    # Scroll 2,000 rows up, a wheel step per frame, painting each frame.
    model = view.model()
    names = {bytes(n.data()).decode(): r for r, n in model.roleNames().items()}

    def top_message_id() -> int:
        index = view.indexAt(view.viewport().rect().topLeft())
        return int(model.data(index, names["messageId"]) or 0)

    wait_until(app, lambda: chat.worker.is_ready, timeout_s=120)
    if ready_at:  # from this process's launch: what a person waits for a first reply
        emit("worker_ready_s", ready_at[0], "s", kind="cold")
    first_top = top_message_id()
    frames: list[float] = []
    bar = view.verticalScrollBar()
    while top_message_id() > first_top - SCROLL_ROWS and len(frames) < 50_000:
        frame_start = time.perf_counter()
        bar.setValue(bar.value() - 3 * bar.singleStep())
        app.processEvents()
        view.viewport().repaint()
        frames.append((time.perf_counter() - frame_start) * 1000)
    frames.sort()
    emit(
        "scroll_frame_ms_p99",
        frames[int(len(frames) * 0.99) - 1],
        "ms",
        frames=len(frames),
        median=round(statistics.median(frames), 3),
    )

    # Crew overhead: scripted replies with no model time, warm worker.
    thread = chat.services.threads.create(chat.user_id, "bench")
    window.on_thread_selected(thread.id)
    durations: list[float] = []
    finished: list[int] = []
    chat.coordinator.run_finished.connect(lambda eid, _status: finished.append(eid))
    for index in range(OVERHEAD_RUNS):
        script[:] = [f"Reply number {index}."]
        start = time.perf_counter()
        sent = chat.services.messages.send(chat.user_id, thread.id, f"Question {index}")
        assert sent.execution is not None
        wait_until(app, lambda eid=sent.execution.id: eid in finished)
        durations.append((time.perf_counter() - start) * 1000)
    emit("crew_overhead_ms", statistics.median(durations[1:]), "ms", runs=len(durations) - 1)

    # First token: what chatdesk adds over asking an OpenAI-compatible server directly.
    from chatdesk.testkit.fake_openai import reply, running_server

    with running_server([reply(FIRST_TOKEN_REPLY, chunk_size=8)]) as server:
        raw = sorted(_raw_first_token_ms(server.base_url) for _ in range(FIRST_TOKEN_RUNS))
        provider.append(
            ModelConfig(model="openai/fake-model", base_url=server.base_url, api_key="bench")
        )
        shown: list[float] = []
        chat.coordinator.reply_text_changed.connect(
            lambda _id, _text: shown.append(time.perf_counter())
        )
        through_app: list[float] = []
        for index in range(FIRST_TOKEN_RUNS + 1):  # the first warms the HTTP client
            shown.clear()
            start = time.perf_counter()
            sent = chat.services.messages.send(chat.user_id, thread.id, f"First {index}")
            assert sent.execution is not None
            wait_until(app, lambda eid=sent.execution.id: eid in finished)
            if shown and index:
                through_app.append((shown[0] - start) * 1000)
        provider.clear()
    raw_ms, app_ms = statistics.median(raw), statistics.median(through_app)
    emit(
        "first_token_overhead_ms",
        app_ms - raw_ms,
        "ms",
        first_token_ms=round(app_ms, 1),
        raw_provider_ms=round(raw_ms, 1),
        runs=len(through_app),
    )

    # Event-loop lag while one reply streams 1,000 chunks a second for 10 s.
    total = int(STREAM_SECONDS * STREAM_CHUNKS_PER_S)
    script[:] = [{"text": "x" * total, "chunk_size": 1, "delay_s": 1 / STREAM_CHUNKS_PER_S}]
    lags: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, (now - last[0]) * 1000 - LAG_TICK_MS))
        last[0] = now

    chunks: list[int] = []
    chat.worker.event_received.connect(lambda _event: chunks.append(1))
    timer = QTimer()
    timer.setInterval(LAG_TICK_MS)
    timer.timeout.connect(tick)
    sent = chat.services.messages.send(chat.user_id, thread.id, "Stream a lot")
    assert sent.execution is not None
    stream_start = time.perf_counter()
    last[0] = stream_start
    timer.start()
    wait_until(app, lambda: sent.execution.id in finished, timeout_s=120)
    timer.stop()
    elapsed = time.perf_counter() - stream_start
    lags.sort()
    emit(
        "stream_lag_ms_p99",
        lags[int(len(lags) * 0.99) - 1],
        "ms",
        events_per_s=round(len(chunks) / elapsed),
        seconds=round(elapsed, 1),
    )
    emit("stream_lag_ms_max", lags[-1], "ms")

    window.on_thread_selected(big_thread_id)
    wait_until(app, lambda: True)
    emit("rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB")
    pid = chat.worker.pid
    if pid:
        emit("worker_rss_mb", _peak_rss_mb(pid), "MB")
    chat.services.threads.delete(chat.user_id, thread.id)  # a reused history stays as built

    # A second worker, the files CrewAI loads now in the OS cache (a restart after a crash).
    chat.worker.shutdown()
    started = time.perf_counter()
    chat.worker.start()
    wait_until(app, lambda: chat.worker.is_ready, timeout_s=120)
    emit("worker_ready_s", time.perf_counter() - started, "s", kind="warm")
    chat.close()


def _seconds_since_launch() -> float:
    """How long ago this process started (Linux: /proc; elsewhere: since this module loaded)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _LOADED_AT


def _raw_first_token_ms(base_url: str) -> float:
    """Milliseconds from asking the server for a streamed reply to its first content."""
    url = urllib.parse.urlsplit(base_url)
    body = json.dumps(
        {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    )
    start = time.perf_counter()
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        connection.request(
            "POST",
            url.path + "/chat/completions",
            body,
            {"Content-Type": "application/json", "Authorization": "Bearer bench"},
        )
        response = connection.getresponse()
        for line in response:
            if line.startswith(b"data:") and b'"content"' in line:
                break
        return (time.perf_counter() - start) * 1000
    finally:
        connection.close()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "startup":
        probe_startup()
    elif mode == "session":
        probe_session(int(sys.argv[2]))
    elif mode == "open":
        probe_open(int(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m chatdesk.bench.probe startup|session|open BIG_THREAD_ID")


if __name__ == "__main__":
    main()
