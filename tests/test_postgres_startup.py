"""A PostgreSQL server that refuses chatdesk: a dialog at start-up, a line headless.

The window's path (``_open_store_or_explain``) shows the refusal's own title and
sentence and quits; ``chatdesk export`` run as a real process against a closed port
prints one line and exits 2, with no traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chatdesk.app import _open_store_or_explain
from chatdesk.testing import OFFSCREEN_NOISE
from tests.support.dialogs import answering_dialogs
from tests.support.pg_roles import closed_port
from tests.support.processes import die_with_parent

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


def test_an_unreachable_server_is_a_dialog_not_a_traceback(qapp: object, tmp_path: Path) -> None:
    url = f"postgresql+psycopg://chatdesk:hunter2@127.0.0.1:{closed_port()}/chatdesk"
    with answering_dialogs("startupDecline") as shown:
        assert _open_store_or_explain(url, tmp_path / "backups") is None
    assert len(shown) == 1 and shown[0].startswith("startupProblem:")
    assert "cannot reach the database server at 127.0.0.1" in shown[0]
    assert "hunter2" not in shown[0] and "Traceback" not in shown[0]


def test_a_command_says_the_server_is_unreachable_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://chatdesk:hunter2@127.0.0.1:{closed_port()}/chatdesk"
    env = {
        **os.environ,
        "CHATDESK_DATA_DIR": str(tmp_path / "data"),
        "CHATDESK_DATABASE_URL": url,
        "QT_QPA_PLATFORM": "offscreen",
    }
    done = subprocess.run(
        [sys.executable, "-m", "chatdesk", "export", "--all", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cannot reach the database server" in lines[0] and "hunter2" not in lines[0]
