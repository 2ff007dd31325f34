"""``chatdesk export``: the real ``python -m chatdesk`` with no display, as a script runs it.

No Qt is loaded (``-X importtime`` lists every module imported), progress goes to
stderr, the summary to stdout, and bad input exits 2 with one sentence, leaving the
database and the target as they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chatdesk.services import Services
from chatdesk.services.executions import LogEntry
from chatdesk.store.migrate import downgrade, open_store
from tests.support.processes import die_with_parent

TIMEOUT_S = 60


def _chatdesk(data: Path, *args: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    env["CHATDESK_DATA_DIR"] = str(data)
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "chatdesk"]
    return subprocess.run(
        [*command, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=die_with_parent(),
        check=False,
    )


def _history(data: Path) -> list[int]:
    store = open_store(f"sqlite:///{data / 'chatdesk.db'}")
    try:
        services = Services(store)
        me = services.users.ensure()
        ids = []
        for title in ("Alpha", "Beta"):
            chat = services.threads.create(me, title)
            sent = services.messages.send(me, chat.id, f"hello {title}")
            assert sent.execution is not None
            services.executions.append_logs(me, sent.execution.id, [LogEntry("a"), LogEntry("b")])
            ids.append(chat.id)
        return ids
    finally:
        store.close()


def test_export_all_runs_without_qt_and_says_what_it_did(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _history(data)
    done = _chatdesk(data, "export", "--all", str(tmp_path / "out"), importtime=True)
    assert done.returncode == 0, done.stderr
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert "chatdesk.services.archive" in imported  # the export ran in this process
    assert not [name for name in imported if name.startswith(("PySide6", "chatdesk.ui"))]
    progress = [line for line in done.stderr.splitlines() if "import time:" not in line]
    assert progress == ["[1/2] Beta", "[2/2] Alpha"]
    assert done.stdout == (
        f"Exported 2 chats (2 messages, 2 runs, 4 steps) to {tmp_path / 'out'}\n"
    )
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert [chat["title"] for chat in manifest["chats"]] == ["Beta", "Alpha"]


def test_export_one_thread_as_a_zip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    alpha, _beta = _history(data)
    done = _chatdesk(data, "export", "--thread", str(alpha), "--zip", str(tmp_path / "one"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Exported 1 chat (1 message, 1 run, 2 steps) to ")
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert [chat["title"] for chat in manifest["chats"]] == ["Alpha"]


@pytest.mark.parametrize(
    ("case", "told"),
    [
        ("no database", "there is no chatdesk database at"),
        ("no such chat", "No chat of yours has the id 999."),
        ("target not empty", "already exists and is not an empty folder."),
        ("needs an upgrade", "open chatdesk once to upgrade it, then export."),
    ],
)
def test_bad_input_exits_2_with_one_sentence_and_changes_nothing(
    tmp_path: Path, case: str, told: str
) -> None:
    data = tmp_path / "data"
    target = tmp_path / "out"
    args = ["export", "--all", str(target)]
    if case != "no database":
        _history(data)
    if case == "no such chat":
        args = ["export", "--thread", "999", str(target)]
    if case == "target not empty":
        target.mkdir()
        (target / "mine.txt").write_text("keep me", encoding="utf-8")
    if case == "needs an upgrade":
        store = open_store(f"sqlite:///{data / 'chatdesk.db'}")
        downgrade(store.engine, "0007")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    done = _chatdesk(data, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatdesk export: ") and told in lines[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no file made, none left
    if case == "target not empty":
        assert (target / "mine.txt").read_text(encoding="utf-8") == "keep me"
