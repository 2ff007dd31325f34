"""The GUI's engine modules never import CrewAI (seconds and ~180 MB at start-up)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "chatdesk.engine.client",
        "chatdesk.engine.protocol",
        "chatdesk.runs.providers",
        "chatdesk.engine.crews",
        "chatdesk.engine.scripting",
        "chatdesk.engine.history",
        "chatdesk.engine.answer_filter",
    ],
)
def test_module_does_not_import_crewai(module: str) -> None:
    code = (
        f"import {module}, sys; "
        "bad = sorted(m for m in sys.modules if m.startswith('crewai')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
