"""The layer rules in pyproject.toml hold, and each one catches the import it forbids.

Each violation is written into a copy of the package (never the checkout), and
``lint-imports`` runs on the copy with the project's own contracts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The `lint-imports` command, run by this interpreter wherever pip put its script.
LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]


def _lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the ``chatdesk`` package and the ``pyproject.toml`` under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [*LINT_IMPORTS, "--no-cache", "--no-logo", *only],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_keeps_every_contract() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "violation", "contract"),
    [
        ("store/backup.py", "import chatdesk.runs.coordinator", "layers"),
        ("services/search.py", "import PySide6.QtCore", "store-services-no-qt"),
        ("store/models.py", "import chatdesk.ui.theme", "store-services-no-qt"),
        ("ui/toast.py", "import chatdesk.store.models", "ui-no-store-engine"),
        ("ui/toast.py", "import sqlalchemy.orm", "ui-no-store-engine"),
        ("ui/toast.py", "import chatdesk.engine.protocol", "ui-no-store-engine"),
        ("engine/history.py", "import chatdesk.services.records", "engine-alone"),
        ("vocabulary.py", "import sqlalchemy", "vocabulary-alone"),
        ("services/documents/chunks.py", "import chatdesk.services.errors", "documents-pure"),
        ("services/documents/model.py", "import chatdesk.store.models", "documents-pure"),
        ("runs/crew_choice.py", "import chatdesk.engine.runner", "crewai-in-worker-only"),
        ("config.py", "import chatdesk.services.users", "helpers-alone"),
        ("commands/export_command.py", "import chatdesk.ui.notices", "commands-headless"),
        ("commands/__init__.py", "import qasync", "commands-headless"),
        ("engine/runner.py", "import chatdesk.testkit.fake_openai", "product-without-test-support"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, violation: str, contract: str
) -> None:
    shutil.copytree(
        ROOT / "chatdesk", tmp_path / "chatdesk", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "chatdesk" / module
    target.write_text(target.read_text() + f"\n{violation}\n")

    done = _lint_imports(tmp_path, contract)

    assert done.returncode != 0, done.stdout[-3000:]
    assert "0 kept, 1 broken" in done.stdout, done.stdout[-3000:]
