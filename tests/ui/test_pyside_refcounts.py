"""The installed PySide6 must not leak references to True/None (6.12.0 does on 3.11).

PySide6 6.12.0 drops a reference to ``True`` on every signal emit from Python and to
``None`` on every empty QVariant; on Python 3.11 the interpreter then aborts
("bool_dealloc"). pyproject pins PySide6 below 6.12 there; this test keeps the pin honest.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from PySide6.QtCore import QCoreApplication, QModelIndex, QObject, Signal
app = QCoreApplication([])
class Emitter(QObject):
    fired = Signal(int)
emitter = Emitter()
emitter.fired.connect(lambda value: None)
true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
for index in range(5000):
    emitter.fired.emit(index)
    QModelIndex().data()
print(sys.getrefcount(True) - true_before, sys.getrefcount(None) - none_before)
"""


def test_signal_emits_and_empty_variants_keep_their_references() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    true_delta, none_delta = (int(part) for part in done.stdout.split())
    assert abs(true_delta) < 50 and abs(none_delta) < 50, done.stdout
