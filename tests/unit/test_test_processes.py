"""The guards that keep a test's processes from outliving it (``tests.support.processes``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.processes import live_descendants

REPO = Path(__file__).resolve().parents[2]

# A stand-in for pytest killed mid-test: it starts a long child the way the tests do,
# prints the child's pid, then dies by SIGKILL, so no finally and no fixture runs.
KILLED_PARENT = """
import os, signal, subprocess, sys
from tests.support.processes import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         preexec_fn=die_with_parent())
print(child.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def test_a_child_dies_when_the_process_that_started_it_is_killed() -> None:
    parent = subprocess.run(
        [sys.executable, "-c", KILLED_PARENT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert parent.returncode == -9
    child = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the child outlived its killed parent"


def test_what_a_test_starts_is_listed_until_it_ends() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert sleeper.pid in live_descendants()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sleeper.pid not in live_descendants()
