"""``chatdesk import``: the real ``python -m chatdesk`` with no display, as a script runs it.

Progress goes to stderr and the summary to stdout; a bad file exits 2 with its reason
and keeps nothing of itself; a running chatdesk (its lock on the data directory) makes
the command refuse (3); Ctrl+C stops it cleanly (130) with nothing left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QLockFile

from chatdesk.bench.chatgpt_export import write_chatgpt_export
from chatdesk.config import LOCK_FILE_NAME
from chatdesk.services import Services
from chatdesk.store.migrate import open_store
from tests.services.foreign.helpers import EXPORTS
from tests.support.processes import die_with_parent

TIMEOUT_S = 120
CHATGPT = EXPORTS / "chatgpt-conversations.json"


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    env["CHATDESK_DATA_DIR"] = str(data)
    return env


def _chatdesk(data: Path, *args: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "chatdesk"]
    return subprocess.run(
        [*command, *args],
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=die_with_parent(),
        check=False,
    )


def _chats(data: Path) -> list[str]:
    store = open_store(f"sqlite:///{data / 'chatdesk.db'}")
    try:
        services = Services(store)
        return sorted(t.title for t in services.threads.list(services.users.ensure()))
    finally:
        store.close()


def test_import_into_an_empty_data_dir_says_what_it_did(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _chatdesk(
        data, "import", str(CHATGPT), str(EXPORTS / "claude-conversations.json"), importtime=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "PySide6.QtCore" in loaded  # the app's own lock file, which needs no display
    assert not {"PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtNetwork"} & loaded
    assert "chats from ChatGPT" in done.stdout and "chats from Claude" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("Imported ")
    assert "from 2 files" in done.stdout
    assert "importing" in done.stderr  # progress, a line per tenth (not a terminal)
    assert len(_chats(data)) >= 4
    again = _chatdesk(data, "import", str(CHATGPT))
    assert again.returncode == 0
    assert "already here" in again.stdout and "--again" in again.stdout
    copies = _chatdesk(data, "import", "--again", str(CHATGPT))
    assert copies.returncode == 0 and "3 chats from ChatGPT" in copies.stdout


def test_bad_input_exits_2_with_the_reason_and_imports_the_good_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    broken = tmp_path / "conversations.json"
    broken.write_text(CHATGPT.read_text(encoding="utf-8")[:-200], encoding="utf-8")
    missing = tmp_path / "nowhere.json"
    done = _chatdesk(data, "import", str(broken), str(missing), str(CHATGPT))
    assert done.returncode == 2
    assert f"{broken}: " in done.stderr and f"{missing}: " in done.stderr
    assert "Imported 3 chats" in done.stdout  # the good file went in, the others not at all
    assert len(_chats(data)) == 3
    unknown = _chatdesk(data, "import", "--from", "myspace", str(CHATGPT))
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_a_running_chatdesk_makes_it_refuse(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    lock = QLockFile(str(data / LOCK_FILE_NAME))  # what the running app holds
    assert lock.tryLock(0)
    try:
        done = _chatdesk(data, "import", str(CHATGPT))
    finally:
        lock.unlock()
    assert done.returncode == 3
    assert "chatdesk is running" in done.stderr and "File > Import chats" in done.stderr
    assert not (data / "chatdesk.db").exists()


def test_ctrl_c_stops_it_and_keeps_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    export = tmp_path / "conversations.json"
    write_chatgpt_export(export, conversations=400, messages_per_conversation=100)
    process = subprocess.Popen(
        [sys.executable, "-m", "chatdesk", "import", str(export)],
        env=_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(),
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + TIMEOUT_S
        line = ""
        while "importing 1" not in line and time.monotonic() < deadline:  # 10% or more
            line = process.stderr.readline()
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "stopped; nothing of it was added" in err
    assert _chats(data) == []
