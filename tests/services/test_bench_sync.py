"""The sync-latency bench measures two clients on a real server, given its URL."""

from __future__ import annotations

import json
import uuid

import pytest

from chatdesk.bench.sync_latency import bench_sync_latency


@pytest.mark.postgres
def test_the_bench_prints_sync_latency_for_a_given_server(
    postgres_server: object | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed here")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)  # type: ignore[attr-defined]
    try:
        bench_sync_latency(url, samples=20, window=False)
    finally:
        postgres_server.drop_database(name)  # type: ignore[attr-defined]
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["metric"] == "sync_latency_ms" and line["samples"] == 20
    assert 0 < line["p50"] <= line["value"] <= line["max"]
