"""The GUI's modules never import CrewAI (seconds and ~180 MB at start-up).

The import-linter contract ``crewai-in-worker-only`` says the same statically; this
imports them for real, so an import hidden from static analysis is caught too.
"""

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
        "chatdesk.runs.coordinator",
        "chatdesk.runs.model_choice",
        "chatdesk.runs.crew_choice",
        "chatdesk.app",
        "chatdesk.ui.main_window",
    ],
)
def test_module_does_not_import_crewai(module: str) -> None:
    code = (
        f"import {module}, sys; "
        "bad = sorted(m for m in sys.modules if m.startswith('crewai')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
