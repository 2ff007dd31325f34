"""The wheel ships every package of the source tree (``python -m chatdesk.bench`` included).

A package missing from ``[tool.setuptools] packages`` works from a checkout and fails
only once installed; building the real wheel is the one way to see it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_packages() -> set[str]:
    """``chatdesk.x.y`` for every folder under chatdesk/ holding an ``__init__.py``."""
    return {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "chatdesk").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_wheel_holds_every_package_and_the_bench(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    source = tmp_path / "source"  # a clean copy: the build writes build/ and egg-info
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "wheels"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    (wheel,) = out.glob("chatdesk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {name.rsplit("/", 1)[0].replace("/", ".") for name in names if name.endswith(".py")}
    assert _source_packages() <= shipped, sorted(_source_packages() - shipped)
    for module in (
        "chatdesk/bench/__main__.py",
        "chatdesk/testkit/fake_openai.py",
        "chatdesk/runs/coordinator.py",
        "chatdesk/vocabulary.py",
        "chatdesk/migrations/env.py",
    ):
        assert module in names
    assert "chatdesk/example.py" not in names  # examples stay in the repository
    assert "chatdesk/resources/prices.json" in names  # the price table is data
