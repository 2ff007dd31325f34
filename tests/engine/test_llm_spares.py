"""A spare LLM is built ahead for the last model and serves exactly one run.

CrewAI is imported only in worker processes (the test process is a GUI process), so
the checks run in a child that sets up CrewAI the way the worker does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECKS = textwrap.dedent(
    """
    import threading, time
    import chatdesk.engine.worker  # CrewAI's side effects off, as in the worker
    from chatdesk.engine.crew_builder import LlmSpares
    from chatdesk.engine.http_guard import RunGuard
    from chatdesk.engine.protocol import ModelConfig

    def config(name):
        return ModelConfig(model=name, base_url="http://127.0.0.1:9/v1", api_key="k")

    def wait_for_spare(spares, model):
        deadline = time.monotonic() + 30
        while model not in spares._spares:
            assert time.monotonic() < deadline, "no spare was built"
            time.sleep(0.01)

    model, other = config("openai/fake-model"), config("openai/other")
    spares = LlmSpares()
    spares.prepare(model)
    wait_for_spare(spares, model)
    spare = spares._spares[model]
    cancel = threading.Event()
    taken = spares.take(model, cancel, 123.0)
    assert taken is spare
    assert isinstance(taken.interceptor, RunGuard)
    assert taken.interceptor._cancel is cancel  # Stop reaches the spare's stream
    assert taken.interceptor._deadline == 123.0  # and so does the run's deadline
    assert spares.take(model, threading.Event()) is not spare  # one run per spare

    spares.prepare(model)
    wait_for_spare(spares, model)
    spares.prepare(other)
    wait_for_spare(spares, other)
    assert list(spares._spares) == [other]  # only the newest model is kept warm
    scripted = ModelConfig(model="scripted", script=({"text": "hi"},))
    spares.prepare(scripted)
    assert list(spares._spares) == [other]
    assert spares.take(scripted, threading.Event()) is not None
    print("ok")
    """
)


def test_spares_serve_one_run_each_and_follow_its_cancel_event() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECKS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
