"""What the worker switches off or shares in CrewAI and httpx still leaves runs whole.

CrewAI is imported only in worker processes (the test process is a GUI process), so
the checks run in a child that sets up CrewAI the way the worker does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECKS = textwrap.dedent(
    """
    import sqlite3, ssl, tempfile, threading
    from pathlib import Path
    import chatdesk.engine.worker as worker

    storage = worker.prepare_environment(Path(tempfile.mkdtemp()))
    import httpx
    from crewai.agents.agent_executor import AgentExecutorState
    from chatdesk.engine.cancel_signal import CancelSignal
    from chatdesk.engine.crew_builder import build_crew, build_llm, crew_inputs
    from chatdesk.engine.crewai_tuning import share_executor_state_class
    from chatdesk.engine.crews import CatalogCache, crew_search_path
    from chatdesk.engine.protocol import ModelConfig, RunRequest
    from chatdesk.engine.tls import share_tls_contexts

    # One CA bundle load for every client with plain settings; others as asked.
    assert share_tls_contexts() and share_tls_contexts()
    pool = lambda **kw: httpx.HTTPTransport(**kw)._pool._ssl_context
    assert pool() is pool()
    assert pool(verify=False) is pool(verify=False) is not pool()
    own = ssl.create_default_context()
    assert pool(verify=own) is own
    model = ModelConfig(model="openai/m", base_url="http://127.0.0.1:9/v1", api_key="k")
    first, second = (build_llm(model, CancelSignal()) for _ in range(2))
    assert first._client._client._transport._pool._ssl_context is pool()
    assert second._client._client._transport._pool._ssl_context is pool()

    # Executors stop deriving a pydantic class each; the state they run with is as before.
    assert share_executor_state_class() and share_executor_state_class()
    spec = CatalogCache().get(crew_search_path(None)).get("assistant")
    derived_before = len(AgentExecutorState.__subclasses__())
    for index in range(3):
        scripted = ModelConfig(
            model="scripted", script=({"text": f"Thought: ok\\nFinal Answer: hello {index}"},)
        )
        crew = build_crew(spec, build_llm(scripted, CancelSignal()))
        request = RunRequest(run_id=f"r{index}", crew="assistant", message="hi", model=scripted)
        assert crew.kickoff(inputs=crew_inputs(request)).raw == f"hello {index}"
        assert type(crew.agents[0].agent_executor.state) is AgentExecutorState
    assert len(AgentExecutorState.__subclasses__()) == derived_before

    # Nothing lands in CrewAI's replay log.
    for path in storage.rglob("*kickoff_task_outputs*.db"):
        with sqlite3.connect(path) as db:
            tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
            for table in tables:
                assert db.execute(f"select count(*) from {table}").fetchone()[0] == 0, table
    print("ok")
    """
)


def test_shared_tls_context_and_skipped_crewai_work_keep_runs_whole() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECKS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
