"""Python's garbage collections on the GUI thread only.

Why: a collection runs in whichever thread allocates when a threshold is crossed: the
live-sync listener, a background task, an HTTP probe. A Qt object caught in a garbage
cycle is then destroyed on that thread, and Qt warns ("Timers cannot be stopped from
another thread") or crashes. So while a collector runs, automatic collection is off
and a timer collects on the GUI thread, a generation at a time as the thresholds say:
what automatic collection would have done, only here.

Collectors nest (the app has one, a test session another): automatic collection comes
back when the last one stops.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250
"""How often the GUI thread looks whether a collection is due."""

_running = 0
_guard = threading.Lock()


def collect_due() -> int | None:
    """Collect the oldest generation whose threshold is crossed (on the calling thread,
    which must be the GUI thread); the generation collected, or None."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if thresholds[generation] and counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return generation
    return None


class GuiThreadCollector(QObject):
    """Switches automatic collection off and collects from a GUI-thread timer."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(collect_due)
        self._started = False

    def start(self) -> None:
        global _running
        if self._started:
            return
        self._started = True
        with _guard:
            _running += 1
            gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect what is due now, and let automatic collection back if this was the
        last collector."""
        global _running
        if not self._started:
            return
        self._started = False
        self._timer.stop()
        collect_due()
        with _guard:
            _running -= 1
            if _running == 0:
                gc.enable()
