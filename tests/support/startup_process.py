"""Start the real ``python -m chatdesk`` as a person would, and look at what it left.

CI runs as root, and root ignores file modes: a read-only database is writable to it.
``file_modes_enforced`` returns a command prefix that runs the app as root WITHOUT the
capabilities that bypass modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so modes
apply exactly as they do for a person; as any other user, modes apply already.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DROP_FILE_ACCESS = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
    "--",
]
LINE_TIMEOUT_S = 90.0
EXIT_TIMEOUT_S = 30.0


def file_modes_enforced(tmp_path: Path) -> list[str]:
    """A command prefix under which file modes bind the app; skips when none exists."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv is missing: file modes cannot bind the app")
    probe = tmp_path / "mode-probe"
    probe.write_bytes(b"")
    probe.chmod(0o400)
    script = (
        f"try:\n    open({str(probe)!r}, 'ab')\nexcept PermissionError:\n    print('denied')\n"
        "else:\n    print('written')"
    )
    try:
        done = subprocess.run(
            [*DROP_FILE_ACCESS, sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        probe.unlink()
    if done.stdout.strip() != "denied":
        pytest.skip(
            "running as root, and setpriv could not drop CAP_DAC_OVERRIDE here "
            f"({done.stdout.strip() or done.stderr.strip()[-200:]})"
        )
    return DROP_FILE_ACCESS


@dataclass
class Finished:
    returncode: int
    stderr: str


def run_until_line(
    data_dir: Path,
    expected: str,
    prefix: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Finished:
    """Start chatdesk on ``data_dir``; once stderr says ``expected``, send SIGTERM.

    SIGTERM answers an open start-up dialog as a person closing it would. The process
    is killed whatever happens, so none outlives the test.
    """
    environment = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CHATDESK_DATA_DIR": str(data_dir),
        **(env or {}),
    }
    child = subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "chatdesk"],
        cwd=REPO,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            lines.append(line)
            if expected in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while not seen.is_set() and child.poll() is None and time.monotonic() < deadline:
            seen.wait(0.1)
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        returncode = child.wait(timeout=EXIT_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        reader.join(timeout=10)
        assert child.stderr is not None
        child.stderr.close()
    return Finished(returncode, "".join(lines))


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every path under ``root`` (itself too): its sha256 (files) and mode."""
    found: dict[str, tuple[str, int]] = {}
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode & 0o7777
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path.relative_to(root.parent))] = (digest, mode)
    return found
