"""The client writes a run request to the worker at once and reads its answers in order.

A stand-in worker (a few lines of Python speaking the protocol) makes this exact:
it notes when each request arrives and answers with a burst of events at once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import ChunkEvent, CompletedEvent
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
