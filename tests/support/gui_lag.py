"""How long the GUI thread stood still because of the app, not because of the machine.

A 10 ms timer on the GUI thread shows every stall of the window, but on a busy 2-core
machine the operating system alone can leave a process unscheduled for a few hundred
milliseconds, and a budget on the raw gap then measures the machine. So a second
10 ms ticker runs in a process of its own (a probe of the machine: it shares no GIL
and no event loop with the app) and reports its own stalls; a stall of the window is
charged to the app only for the part the probe was not stalled too. Both sides use
``CLOCK_MONOTONIC`` (``time.monotonic``), which is the same clock in every process.

The probe exits when its stdin closes, so it dies with the test process whatever
happens.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QTimer

INTERVAL_S = 0.010
STALL_S = 0.030
"""A gap between ticks longer than this is recorded as a stall (on either side)."""

_PROBE = r"""
import json, sys, threading, time
stalls, done = [], threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
print("ready", flush=True)
last = time.monotonic()
while not done.wait(INTERVAL):
    now = time.monotonic()
    if now - last > STALL:
        stalls.append((last, now))
    last = now
print(json.dumps(stalls), flush=True)
"""


class GuiLagMonitor:
    """The window's longest stall, raw and as charged to the app."""

    def __init__(self) -> None:
        self._timer = QTimer()
        self._timer.setInterval(int(INTERVAL_S * 1000))
        self._timer.timeout.connect(self._tick)
        self._last = time.monotonic()
        self._gui_stalls: list[tuple[float, float]] = []
        self._machine_stalls: list[tuple[float, float]] = []
        self._probe: subprocess.Popen[str] | None = None

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last > STALL_S:
            self._gui_stalls.append((self._last, now))
        self._last = now

    def start(self) -> None:
        source = _PROBE.replace("INTERVAL", repr(INTERVAL_S)).replace("STALL", repr(STALL_S))
        self._probe = subprocess.Popen(
            [sys.executable, "-c", source],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._probe.stdout is not None
        assert self._probe.stdout.readline().strip() == "ready"
        self._gui_stalls, self._machine_stalls = [], []
        self._last = time.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._tick()  # the gap up to now counts too
        self._timer.stop()
        probe, self._probe = self._probe, None
        if probe is None:
            return
        try:
            out, _ = probe.communicate("", timeout=30)
            self._machine_stalls = [tuple(pair) for pair in json.loads(out.splitlines()[-1])]
        finally:
            if probe.poll() is None:
                probe.kill()
                probe.wait()

    @contextmanager
    def measuring(self) -> Iterator[GuiLagMonitor]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    @property
    def probe_pid(self) -> int | None:
        """The machine probe's process id while measuring (a test may freeze it)."""
        return self._probe.pid if self._probe is not None else None

    @property
    def longest_stall_ms(self) -> int:
        """The raw longest stall of the window, machine and app together."""
        return round(max((b - a for a, b in self._gui_stalls), default=0.0) * 1000)

    @property
    def app_lag_ms(self) -> int:
        """The longest stall of the window less the part the machine stalled everyone."""
        worst = 0.0
        for start, end in self._gui_stalls:
            excused = sum(
                max(0.0, min(end, m_end) - max(start, m_start))
                for m_start, m_end in self._machine_stalls
            )
            worst = max(worst, (end - start) - excused)
        return round(worst * 1000)

    def describe(self) -> str:
        return (
            f"app lag {self.app_lag_ms} ms (raw stall {self.longest_stall_ms} ms, "
            f"{len(self._machine_stalls)} machine stall(s))"
        )
