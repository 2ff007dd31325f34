"""The client writes a run request to the worker at once and reads its answers in order,
and does not take a worker that is late to confirm a cancel while it talks for a hung one.

Stand-in workers (a few lines of Python speaking the protocol) make this exact: one
notes when each request arrives and answers with a burst of events at once; another
streams until cancelled and confirms the cancel late, still streaming meanwhile.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import CancelledEvent, ChunkEvent, CompletedEvent
from tests.engine.conftest import Recorder, run_request, scripted, wait_ready

CHUNKS = 40

STAND_IN = """#!{python}
import json, os, sys
from chatdesk.engine.protocol import (
    ChunkEvent, CompletedEvent, PongEvent, ReadyEvent, StatusEvent, encode)
out = sys.stdout.buffer
def send(event):
    out.write(encode(event)); out.flush()
send(ReadyEvent(crewai_version="stand-in", pid=os.getpid(), startup_s=0.0))
for line in sys.stdin.buffer:
    request = json.loads(line)
    if request["type"] == "ping":
        send(PongEvent(nonce=request["nonce"]))
    elif request["type"] == "run":
        run_id = request["run_id"]
        with open({arrivals!r}, "a") as arrivals:
            arrivals.write(run_id + "\\n")
        send(StatusEvent(run_id=run_id, seq=1))
        for n in range({chunks}):
            send(ChunkEvent(run_id=run_id, seq=n + 2, text=f"{{n}} "))
        text = "".join(f"{{n}} " for n in range({chunks}))
        send(CompletedEvent(run_id=run_id, seq={chunks} + 2, text=text, model="m"))
    elif request["type"] == "shutdown":
        break
"""


def test_a_request_reaches_the_worker_before_the_gui_returns_to_its_loop(
    qtbot: Any, qapp: Any, tmp_path: Path
) -> None:
    arrivals = tmp_path / "arrivals"
    stand_in = tmp_path / "python"
    stand_in.write_text(
        STAND_IN.format(python=sys.executable, arrivals=str(arrivals), chunks=CHUNKS)
    )
    stand_in.chmod(0o755)
    client = WorkerClient(data_dir=tmp_path, python=str(stand_in))
    recorder = Recorder(client)
    try:
        queued = [run_request(scripted("x")) for _ in range(5)]
        for request in queued:  # queued until the worker is ready, then sent together
            client.submit(request)
        wait_ready(qtbot, client)
        for request in queued:
            recorder.wait_terminal(qtbot, request.run_id, timeout_ms=10_000)

        request = run_request(scripted("x"))
        client.submit(request)
        time.sleep(0.5)  # no Qt events meanwhile: only a write made inside submit() lands
        assert arrivals.read_text().split() == [r.run_id for r in [*queued, request]]
        recorder.wait_terminal(qtbot, request.run_id, timeout_ms=10_000)

        for sent in [*queued, request]:  # every event, in the order written
            events = recorder.events[sent.run_id]
            assert [e.seq for e in events] == list(range(1, CHUNKS + 3))
            assert sum(isinstance(e, ChunkEvent) for e in events) == CHUNKS
            assert isinstance(events[-1], CompletedEvent)
            assert recorder.live_text(sent.run_id) == events[-1].text
    finally:
        recorder.close()
        client.shutdown()


LATE_CONFIRMATION_S = 0.8
"""When the talking stand-in confirms a cancel: past the grace, within twice the grace."""
CANCEL_GRACE_MS = 500

TALKING_STAND_IN = """#!{python}
import json, os, sys, threading, time
from chatdesk.engine.protocol import CancelledEvent, ChunkEvent, PongEvent, ReadyEvent, encode
out = sys.stdout.buffer
lock = threading.Lock()
cancelled = {{}}
def send(event):
    with lock:
        out.write(encode(event)); out.flush()
def talk(run_id):
    # Streams; once cancelled, goes on for a while (its events still on their way to a
    # busy GUI, as a fast stream's are) before the confirmation.
    seq = 0
    while run_id not in cancelled or time.monotonic() < cancelled[run_id] + {late_s}:
        seq += 1
        send(ChunkEvent(run_id=run_id, seq=seq, text="word "))
        time.sleep(0.02)
    send(CancelledEvent(run_id=run_id, seq=seq + 1))
send(ReadyEvent(crewai_version="stand-in", pid=os.getpid(), startup_s=0.0))
for line in sys.stdin.buffer:
    request = json.loads(line)
    if request["type"] == "ping":
        send(PongEvent(nonce=request["nonce"]))
    elif request["type"] == "run":
        threading.Thread(target=talk, args=(request["run_id"],), daemon=True).start()
    elif request["type"] == "cancel":
        cancelled[request["run_id"]] = time.monotonic()
    elif request["type"] == "shutdown":
        break
"""


def _talking_client(tmp_path: Path, late_s: float) -> WorkerClient:
    stand_in = tmp_path / "python"
    stand_in.write_text(TALKING_STAND_IN.format(python=sys.executable, late_s=late_s))
    stand_in.chmod(0o755)
    return WorkerClient(data_dir=tmp_path, python=str(stand_in), cancel_grace_ms=CANCEL_GRACE_MS)


def _cancel_mid_stream(qtbot: Any, client: WorkerClient, recorder: Recorder) -> float:
    """Start a run, cancel it once it streams; how long its ``cancelled`` took."""
    request = run_request(scripted("x"))
    client.submit(request)
    wait_ready(qtbot, client)
    recorder.wait_for(qtbot, request.run_id, ChunkEvent)
    cancelled = time.monotonic()
    client.cancel(request.run_id)
    terminal = recorder.wait_terminal(qtbot, request.run_id, timeout_ms=5000)
    assert isinstance(terminal, CancelledEvent)
    return time.monotonic() - cancelled


def test_a_worker_confirming_a_cancel_late_while_it_talks_is_kept(
    qtbot: Any, qapp: Any, tmp_path: Path
) -> None:
    """The run still ends within the grace; the worker, not hung, is not replaced."""
    client = _talking_client(tmp_path, LATE_CONFIRMATION_S)
    recorder = Recorder(client)
    try:
        client.start()
        wait_ready(qtbot, client)
        pid = client.pid
        assert _cancel_mid_stream(qtbot, client, recorder) < CANCEL_GRACE_MS / 1000 + 1.0
        qtbot.wait(int(CANCEL_GRACE_MS * 2.5))  # past its confirmation and the second grace
        assert recorder.died == []
        assert client.pid == pid and client.is_ready
    finally:
        recorder.close()
        client.shutdown()


def test_a_worker_that_talks_on_but_never_confirms_is_replaced(
    qtbot: Any, qapp: Any, tmp_path: Path
) -> None:
    client = _talking_client(tmp_path, late_s=60.0)
    recorder = Recorder(client)
    try:
        assert _cancel_mid_stream(qtbot, client, recorder) < CANCEL_GRACE_MS / 1000 + 1.0
        qtbot.waitUntil(lambda: bool(recorder.died), timeout=CANCEL_GRACE_MS * 2 + 3000)
        assert recorder.died == ["The worker was restarted because a run did not stop in time."]
    finally:
        recorder.close()
        client.shutdown()
