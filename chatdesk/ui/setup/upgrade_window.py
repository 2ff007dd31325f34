"""The window shown while start-up upgrades an existing database, before the main window.

A big history takes 30-60 s to back up and migrate; without a window the app looks
dead and may be killed. ``open_store_showing_progress`` runs ``open_store`` as a
background task (``chatdesk.ui.tasks``) and, while it works, a small window says what
is happening (checking, backing up with bytes and percent, each migration by name),
with a progress bar and the elapsed time; the GUI thread only runs a local event loop,
so the window repaints and answers.

Closing the window or SIGTERM/SIGINT during the upgrade: the upgrade is STOPPED AND
ROLLED BACK, then chatdesk quits. Closing asks first ("Keep upgrading" is the default);
a signal stops without asking (a session logout will not wait). Stopping is safe at any
moment: a backup being written is deleted; the migrations run in ONE SQLite
transaction (``transactional_ddl`` in migrations/env.py, pysqlite's own transaction
handling off), which a stop interrupts and rolls back, so the database stays at its
old revision; the backup made before migrating stays. Even a hard kill cannot leave
it half migrated: SQLite discards an uncommitted transaction on the next open. The
next start upgrades again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont, QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatdesk.quit_signals import QuitOnSignals
from chatdesk.services.store_upgrade import (
    Stage,
    Store,
    UpgradeCancelled,
    UpgradeMonitor,
    UpgradeStep,
    open_store,
)
from chatdesk.ui.tasks import Task, TaskControl

log = logging.getLogger(__name__)

# Small upgrades finish before this; the window then never flashes up.
SHOW_AFTER_MS = 300
ELAPSED_TICK_MS = 500
PERCENT_STEPS = 1000
WIDTH = 520

HEADING = "Upgrading your chat history…"
EXPLANATION = "This is done once and can take a minute for large histories.\nDon't close chatdesk."
STOPPING = "Stopping… putting your chat history back as it was"


class UpgradeWindow(QWidget):
    """What the person sees during the upgrade; closing it asks to stop.

    Signals:
        stop_requested(): the person (or a signal) wants the upgrade stopped and to quit.

    Attributes:
        steps: the steps shown, in order: each text, but the backup once ("Backing up").
    """

    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("upgradeWindow")
        self.setWindowTitle("Upgrading — chatdesk")
        self.steps: list[str] = []
        self._done = False
        self._stopping = False
        self._confirm: QMessageBox | None = None
        self._clock = QElapsedTimer()
        self._clock.start()
        self._build()
        self._ticker = QTimer(self)
        self._ticker.setInterval(ELAPSED_TICK_MS)
        self._ticker.timeout.connect(self._show_elapsed)
        self._ticker.start()

    def _build(self) -> None:
        heading = QLabel(HEADING, self)
        heading.setObjectName("upgradeHeading")
        font = QFont(heading.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        heading.setFont(font)
        explanation = QLabel(EXPLANATION, self)
        explanation.setObjectName("upgradeExplanation")
        explanation.setWordWrap(True)
        self.step_label = QLabel("Starting…", self)
        self.step_label.setObjectName("upgradeStep")
        self.step_label.setTextFormat(Qt.TextFormat.PlainText)
        self.step_label.setWordWrap(True)
        # Room for a two-line migration name from the start: the window never jumps.
        self.step_label.setMinimumHeight(2 * self.step_label.fontMetrics().lineSpacing())
        self.step_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("upgradeProgress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.elapsed_label = QLabel(self)
        self.elapsed_label.setObjectName("upgradeElapsed")
        self.elapsed_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self._show_elapsed()
        for label in (heading, explanation, self.step_label, self.elapsed_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(explanation)
        layout.addSpacing(6)
        layout.addWidget(self.step_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.elapsed_label)
        self.setFixedWidth(WIDTH)
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow to the height the wrapped text needs at the fixed width (never shrink)."""
        layout = self.layout()
        if layout is None or not layout.hasHeightForWidth():
            return
        needed = layout.totalHeightForWidth(WIDTH)
        if needed > self.height():
            self.resize(WIDTH, needed)

    def showEvent(self, event: QShowEvent) -> None:
        """Centre on the screen (no window manager places it otherwise)."""
        screen = self.screen().availableGeometry()
        self.move(screen.center() - self.rect().center())
        super().showEvent(event)

    def on_progressed(self, step: UpgradeStep) -> None:
        if self._stopping:
            return
        headline = "Backing up" if step.stage is Stage.BACKING_UP else step.text
        if not self.steps or self.steps[-1] != headline:
            self.steps.append(headline)
        self.step_label.setText(step.text)
        self._fit_height()
        if step.stage is Stage.BACKING_UP and step.total > 0:
            self.progress.setRange(0, PERCENT_STEPS)
            self.progress.setValue(step.done * PERCENT_STEPS // step.total)
            self.progress.setFormat(f"{step.done * 100 // step.total}%")
            self.progress.setTextVisible(True)
        else:
            self.progress.setRange(0, 0)
            self.progress.setTextVisible(False)

    def _show_elapsed(self) -> None:
        seconds = self._clock.elapsed() // 1000
        self.elapsed_label.setText(f"Elapsed {seconds // 60}:{seconds % 60:02d}")

    def quit(self) -> None:
        """Stop without asking (SIGTERM/SIGINT through ``QuitOnSignals``)."""
        self._stop()

    def _stop(self) -> None:
        if self._stopping or self._done:
            return
        self._stopping = True
        if self._confirm is not None:
            self._confirm.done(QMessageBox.StandardButton.Cancel)
        self.step_label.setText(STOPPING)
        self.steps.append(STOPPING)
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.stop_requested.emit()

    def finish(self) -> None:
        """The work is over: close without asking."""
        self._done = True
        self._ticker.stop()
        if self._confirm is not None:
            self._confirm.done(QMessageBox.StandardButton.Cancel)
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._done:
            event.accept()
            return
        event.ignore()
        if not self._stopping and self._confirm is None:
            self._ask_to_stop()

    def _ask_to_stop(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Stop upgrading? — chatdesk",
            "Stop the upgrade and quit?",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("upgradeStopQuestion")
        box.setInformativeText(
            "Your chat history will be put back exactly as it was, and chatdesk will "
            "upgrade it the next time it starts."
        )
        keep = box.addButton("Keep upgrading", QMessageBox.ButtonRole.RejectRole)
        stop: QPushButton = box.addButton("Stop and quit", QMessageBox.ButtonRole.AcceptRole)
        keep.setObjectName("keepUpgradingButton")
        stop.setObjectName("stopUpgradeButton")
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def answered() -> None:
            self._confirm = None
            if box.clickedButton() is stop:
                self._stop()
            box.deleteLater()

        box.finished.connect(answered)
        self._confirm = box
        box.open()


def open_store_showing_progress(url: str, backups: Path, *, without_backup: bool = False) -> Store:
    """``open_store`` off the GUI thread, with the upgrade window shown while it runs.

    Returns the open store or raises what ``open_store`` raised; ``UpgradeCancelled``
    when the person or a signal stopped it (if the upgrade won the race and finished,
    its store is closed: the person asked to quit).
    """
    window = UpgradeWindow()

    def upgrade(_control: TaskControl) -> Store:
        return open_store(url, backup_dir=backups, monitor=monitor, without_backup=without_backup)

    task = Task("chatdesk-upgrade", upgrade)
    monitor = UpgradeMonitor(task.control.progress)  # reports from the task's thread
    task.progressed.connect(window.on_progressed)
    window.stop_requested.connect(monitor.request_stop)
    loop = QEventLoop()
    task.ended.connect(loop.quit)
    shower = QTimer()
    shower.setSingleShot(True)
    shower.timeout.connect(window.show)
    signals = QuitOnSignals(window)
    task.start()
    if SHOW_AFTER_MS > 0:
        shower.start(SHOW_AFTER_MS)
    else:
        window.show()
    try:
        loop.exec()
    finally:
        task.wait()  # returns at once unless the loop was left by an exception
        signals.uninstall()
        shower.stop()
        window.finish()
        window.deleteLater()
    log.info("upgrade window said: %s", " | ".join(window.steps))
    if task.error is not None:
        raise task.error
    store: Store = task.result
    if monitor.stop_requested:
        store.close()
        raise UpgradeCancelled("The upgrade was stopped, but it had already finished.")
    return store
