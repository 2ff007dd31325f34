"""The documented example runs as written and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "walkthrough.py"


def test_example_walks_through_crud() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "message 1 is pending, execution 1 is pending",
        "refused: A message cannot go from completed to pending",
        "refused: Thread 1 belongs to another user.",
        "[assistant/processing] Day 1: Alfama",
        "Lisbon, three days",
        "threads left: 0",
    ):
        assert expected in out


def test_readme_names_the_example_as_it_is_run() -> None:
    command = f"python {EXAMPLE.relative_to(ROOT)}"
    assert command in (ROOT / "README.md").read_text()
    assert command in EXAMPLE.read_text()
