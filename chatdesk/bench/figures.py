"""Figures both benches take: start-up time of a real app process, search times.

Shared by the SQLite bench (``__main__``) and the server bench (``server.py``).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time

SEARCH_WORDS = (
    "python lisbon regex error train hotel cache stream token agent garden budget "
    "review coffee castle window query index model river"
).split()


def startup_s(env: dict[str, str]) -> float:
    """Seconds from spawning the app (``env`` names its data) to its painted thread list."""
    command = [sys.executable, "-m", "chatdesk.bench.probe", "startup"]
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "painted":
                elapsed = time.perf_counter() - started
                break
        else:
            raise RuntimeError("the app never painted its thread list")
        child.wait(timeout=30)
    return elapsed


def search_ms_p95(url: str, user_id: int) -> float:
    """p95 of 20 searches of one or two words a history holds (or does not: "regex")."""
    rng = random.Random(3)
    return _p95_of(url, user_id, [" ".join(rng.sample(SEARCH_WORDS, 1 + i % 2)) for i in range(20)])


def no_match_ms_p95(url: str, user_id: int) -> float:
    """p95 of 20 searches of words no message holds: every match must be ruled out."""
    return _p95_of(url, user_id, [f"{word}zq" for word in SEARCH_WORDS])


def _p95_of(url: str, user_id: int, queries: list[str]) -> float:
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store

    services = Services(open_store(url))
    times = []
    for query in queries:
        started = time.perf_counter()
        services.search.search(user_id, query)
        times.append((time.perf_counter() - started) * 1000)
    services.store.close()
    times.sort()
    return times[int(len(times) * 0.95) - 1]
