"""SIGTERM/SIGINT quit an idle Qt app the normal way; a second signal ends it at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatdesk.quit_signals import QuitOnSignals
from tests.support.processes import die_with_parent

REPO = Path(__file__).resolve().parents[2]
# An app whose loop only waits: no timer, no Python running until something wakes Qt.
IDLE_APP = """
import sys
from PySide6.QtCore import QCoreApplication
from chatdesk.quit_signals import QuitOnSignals

app = QCoreApplication(sys.argv)
app.aboutToQuit.connect(lambda: print("about to quit", flush=True))
if len(sys.argv) > 1:  # a quit that hangs
    import time
    app.aboutToQuit.connect(lambda: time.sleep(30))
guard = QuitOnSignals(app)
print("ready", flush=True)
app.exec()
guard.uninstall()
print("exited", flush=True)
"""


def _start(*args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", IDLE_APP, *args],
        preexec_fn=die_with_parent(),
        cwd=REPO,
        env={"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # let it settle into the idle loop
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_quits_an_idle_app_through_about_to_quit(sig: signal.Signals) -> None:
    child = _start()
    sent = time.monotonic()
    child.send_signal(sig)
    out, _ = child.communicate(timeout=10)
    assert time.monotonic() - sent < 1.0
    assert (child.returncode, out.split("\n")[:2]) == (0, ["about to quit", "exited"])


def test_a_second_signal_ends_a_hanging_quit() -> None:
    child = _start("hang")
    child.send_signal(signal.SIGTERM)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "about to quit"
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=5)
    assert child.returncode == 128 + signal.SIGTERM


def test_uninstall_puts_the_previous_handlers_back(qapp: object) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    guard = QuitOnSignals(qapp)  # type: ignore[arg-type]
    assert signal.getsignal(signal.SIGTERM) != before[signal.SIGTERM]
    guard.uninstall()
    guard.uninstall()
    assert {sig: signal.getsignal(sig) for sig in before} == before
