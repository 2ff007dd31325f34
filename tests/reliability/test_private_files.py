"""Everything chatdesk or CrewAI writes under the data directory is the owner's only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chatdesk.private_files import make_tree_private
from chatdesk.testkit.fake_openai import reply, running_server
from tests.support.processes import die_with_parent

REPO = Path(__file__).resolve().parents[2]


def _loose(root: Path) -> list[str]:
    """Paths under ``root`` (and itself) that are not 0700 (folders) / 0600 (files)."""
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if mode != wanted:
            found.append(f"{path.relative_to(root)} {mode:o}")
    return found


@pytest.mark.timeout(300)
def test_after_a_real_start_and_reply_every_file_is_0600_and_every_folder_0700(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    previous = os.umask(0o022)  # the usual umask: chatdesk must not depend on a strict one
    try:
        done = _chat_once(data)
    finally:
        os.umask(previous)
    assert "finished 1 completed" in done.stdout, done.stdout + done.stderr[-3000:]
    assert (data / "crewai").is_dir() and (data / "ui.ini").exists()
    assert _loose(data) == []


def _chat_once(data: Path) -> subprocess.CompletedProcess[str]:
    """The real app (the harness: ``ChatdeskApp`` + main's start-up) answers one message."""
    with running_server([reply("Thought: ok\nFinal Answer: All good.")]) as server:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "CHATDESK_LLM_MODEL": "openai/fake-model",
            "CHATDESK_LLM_BASE_URL": server.base_url,
            "CHATDESK_LLM_API_KEY": "sk-test",
            "HARNESS_REPLIES": "1",
        }
        return subprocess.run(
            [sys.executable, "-m", "tests.support.app_harness", str(data)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )


def test_files_left_loose_by_an_older_chatdesk_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "crewai" / "home").mkdir(parents=True, mode=0o755)
    (data / "crewai").chmod(0o755)
    data.chmod(0o755)
    for name, mode in (("ui.ini", 0o644), ("chatdesk.lock", 0o644), ("crewai/x.json", 0o664)):
        (data / name).write_text("{}")
        (data / name).chmod(mode)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not chatdesk's")
    elsewhere.chmod(0o644)
    (data / "crewai" / "link").symlink_to(elsewhere)  # not ours: left alone
    read_only = data / "kept-read-only.db"
    read_only.write_text("mine")
    read_only.chmod(0o444)
    make_tree_private(data)
    assert _loose(data) == ["kept-read-only.db 444"]
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o644


@pytest.mark.timeout(300)
def test_a_real_start_tightens_what_an_older_chatdesk_left_loose(tmp_path: Path) -> None:
    """``python -m chatdesk`` itself: once its database is open, nothing stays 0644/0755."""
    import signal
    import time

    data = tmp_path / "data"
    (data / "crewai" / "home").mkdir(parents=True)
    for path in (data, data / "crewai", data / "crewai" / "home"):
        path.chmod(0o755)
    (data / "ui.ini").write_text("[ui]\n")
    (data / "ui.ini").chmod(0o644)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CHATDESK_DATA_DIR": str(data)}
    child = subprocess.Popen(
        [sys.executable, "-m", "chatdesk"],
        preexec_fn=die_with_parent(),
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if stat.S_IMODE((data / "crewai" / "home").stat().st_mode) == 0o700:
                break
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert _loose(data) == []
