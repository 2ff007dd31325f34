"""The lag meter the fault tests rely on charges the app's stalls, not the machine's."""

from __future__ import annotations

import os
import subprocess
import time

from pytestqt.qtbot import QtBot

from tests.support.gui_lag import GuiLagMonitor


def test_a_stall_of_the_app_is_charged(qtbot: QtBot) -> None:
    with GuiLagMonitor().measuring() as lag:
        qtbot.wait(50)
        time.sleep(0.4)  # the GUI thread blocked by the app itself
        qtbot.wait(50)
    assert lag.app_lag_ms >= 350, lag.describe()


def test_a_stall_of_the_whole_machine_is_excused(qtbot: QtBot) -> None:
    monitor = GuiLagMonitor()
    with monitor.measuring() as lag:
        qtbot.wait(50)
        probe = monitor.probe_pid
        assert probe is not None
        # Every process frozen for 0.5 s, as an overloaded machine does to them.
        freezer = subprocess.Popen(
            [
                "sh",
                "-c",
                "kill -STOP $0 $1; sleep 0.5; kill -CONT $0 $1",
                str(os.getpid()),
                str(probe),
            ]
        )
        freezer.wait(timeout=30)
        qtbot.wait(100)
    assert lag.longest_stall_ms >= 400, lag.describe()  # the window did stand still
    assert lag.app_lag_ms < 150, lag.describe()  # but not because of the app
