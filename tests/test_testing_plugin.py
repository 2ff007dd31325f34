"""The pytest plugin people test chatdesk with: clear when pytest-qt is missing, offline
unless asked, and saying which model answers. Each case is a real inner pytest run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

USES_WINDOW = "def test_window(chatdesk_window):\n    assert chatdesk_window.isVisible()\n"
PLAIN = "def test_nothing():\n    assert True\n"


def _pytest(
    tmp_path: Path, source: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(source)
    environ = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path), *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_pytest_qt_the_failure_says_what_to_install(tmp_path: Path) -> None:
    done = _pytest(tmp_path, USES_WINDOW, "-p", "no:pytest-qt")
    assert done.returncode == 4  # a usage error, before any test runs
    assert "pip install 'chatdesk[testing]'" in done.stderr
    assert "fixture 'qapp' not found" not in done.stdout


def test_tests_without_chatdesk_fixtures_never_need_pytest_qt(tmp_path: Path) -> None:
    done = _pytest(tmp_path, PLAIN, "-p", "no:pytest-qt")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_header_says_a_model_in_the_shell_is_ignored_unless_asked(tmp_path: Path) -> None:
    done = _pytest(tmp_path, PLAIN, CHATDESK_LLM_MODEL="openai/gpt-4o-mini")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "chatdesk: the scripted model answers; CHATDESK_LLM_MODEL=openai/gpt-4o-mini is "
        "ignored without --chatdesk-real-model" in done.stdout
    )
    asked = _pytest(
        tmp_path, PLAIN, "--chatdesk-real-model", CHATDESK_LLM_MODEL="openai/gpt-4o-mini"
    )
    assert "chatdesk: the real model openai/gpt-4o-mini answers" in asked.stdout


def test_asking_for_the_real_model_without_naming_one_is_an_error(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_LLM_")}
    (tmp_path / "test_inner.py").write_text(PLAIN)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--chatdesk-real-model",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 4
    assert "--chatdesk-real-model needs CHATDESK_LLM_MODEL" in done.stderr
