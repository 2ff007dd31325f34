"""The installer finds what the system lacks with the system's own package tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from chatdesk import install

on_debian = pytest.mark.skipif(
    shutil.which("dpkg-query") is None, reason="needs a Debian-like system (dpkg-query)"
)


@on_debian
def test_a_missing_package_is_found_and_installed_ones_are_not() -> None:
    manager = replace(install.APT, packages=("libc6", "chatdesk-no-such-package"))
    assert install.missing_packages(manager) == ["chatdesk-no-such-package"]


@on_debian
def test_the_qt_libraries_this_suite_runs_with_count_as_installed() -> None:
    assert install.package_manager() is install.APT
    qt_only = tuple(name for name in install.DEBIAN_PACKAGES if name.startswith("libxcb"))
    assert install.missing_packages(replace(install.APT, packages=qt_only)) == []


def test_root_runs_commands_itself_others_through_sudo() -> None:
    command = ["apt-get", "install", "x"]
    if os.geteuid() == 0:
        assert install.as_root(command) == command
    elif shutil.which("sudo"):
        assert install.as_root(command) == ["sudo", *command]


def test_a_dry_run_says_every_step_and_changes_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    bin_dir = tmp_path / "bin"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatdesk.install",
            "--dry-run",
            "--venv",
            str(venv),
            "--bin-dir",
            str(bin_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "system packages" in result.stdout
    assert f"virtual environment: {venv}" in result.stdout
    assert f"command: {bin_dir / 'chatdesk'}" in result.stdout
    assert not venv.exists() and not bin_dir.exists()


def test_a_failing_step_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "venv"
    blocker.write_text("a file where the environment should go")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatdesk.install",
            "--no-system",
            "--venv",
            str(blocker),
            "--bin-dir",
            str(tmp_path / "bin"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("chatdesk.install: this step failed")
