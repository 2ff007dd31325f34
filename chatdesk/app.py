"""Start-up and the composition root: every long-lived part, built and wired in one place.

Order matters for how fast the window appears: the database is opened (at head, a
millisecond when nothing needs migrating), the window is shown, and only then the
crew worker process starts in the background. CrewAI never loads in this process.
``ChatdeskApp`` is also what the pytest plugin builds, so tests drive the real wiring.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chatdesk import __version__

if TYPE_CHECKING:
    from chatdesk.engine.client import WorkerClient
    from chatdesk.runs.coordinator import Coordinator
    from chatdesk.runs.model_choice import ModelResolver
    from chatdesk.services import Services
    from chatdesk.store.migrate import Store
    from chatdesk.ui.main_window import MainWindow

log = logging.getLogger(__name__)

QUIT_WORKER_WAIT_MS = 1000


class ChatdeskApp:
    """The running app: store, services, window, worker client and coordinator.

    Attributes:
        store: the open database.
        services: the use cases over it.
        user_id: the local user the window acts as.
        window: the main window (shown by ``show``).
        worker: the client of the crew worker process (started by ``start_worker``;
            one handed in, as tests share one per session, is left running on close).
        coordinator: turns executions into worker runs and store writes; every run ends
            within ``deadline_s`` (five minutes unless told otherwise).
        recovered: runs a previous crash left unfinished, marked failed at start-up.
    """

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        *,
        resolve_model: ModelResolver | None = None,
        worker: WorkerClient | None = None,
        max_concurrent: int = 2,
        deadline_s: float | None = None,
    ) -> None:
        from chatdesk.engine.client import WorkerClient
        from chatdesk.runs.coordinator import DEFAULT_DEADLINE_S, Coordinator
        from chatdesk.services import Services
        from chatdesk.services.patience import patiently
        from chatdesk.ui.main_window import MainWindow

        self.store = store
        self.services: Services = Services(store)
        # before the window shows, a lock another program holds is waited out
        self.recovered = patiently(self.services.executions.recover_interrupted)
        self.user_id = patiently(self.services.users.ensure)
        self.window: MainWindow = MainWindow(self.services, self.user_id)
        self._owns_worker = worker is None
        self.worker: WorkerClient = worker or WorkerClient(
            data_dir=data_dir, extra_env=_worker_log_env()
        )
        self.coordinator: Coordinator = Coordinator(
            self.services,
            self.worker,
            resolve_model or _settings_resolver(),
            max_concurrent=max_concurrent,
            deadline_s=deadline_s or DEFAULT_DEADLINE_S,
        )
        self._closed = False
        self._heap_frozen = False
        self._connect_signals()

    def _connect_signals(self) -> None:
        # worker -> coordinator -> window
        self.worker.event_received.connect(self.coordinator.on_worker_event)
        self.coordinator.reply_text_changed.connect(self.window.on_reply_text_changed)
        self.coordinator.save_failed.connect(self.window.on_reply_save_failed)
        # window -> coordinator
        self.window.stop_requested.connect(self.coordinator.cancel)

    def show(self) -> None:
        from PySide6.QtCore import QTimer

        self.window.show()
        QTimer.singleShot(0, self._freeze_startup_heap)  # once the window has painted

    def _freeze_startup_heap(self) -> None:
        """Keep what start-up built out of Python's full garbage collections.

        Modules, Qt wrappers and the window live as long as the app; scanning them at
        every full collection paused the GUI for 35-70 ms (100+ ms in a bigger process),
        in the middle of streaming. Frozen, a full collection only scans what was made
        since. (Start-up leaves no garbage cycles behind, so freezing keeps none alive.)
        """
        if self._closed or self._heap_frozen:
            return
        gc.freeze()
        self._heap_frozen = True

    def bring_to_front(self) -> None:
        """Another launch asked for the window: show it above the others."""
        if self.window.isMinimized():
            self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def start_worker(self) -> None:
        """Start the crew worker in the background (the window never waits for it)."""
        self.worker.start()

    def close(self) -> None:
        """Stop runs (their text is kept, marked cancelled), the worker, the database."""
        if self._closed:
            return
        self._closed = True
        self.coordinator.shutdown()
        self.window.shutdown()
        self.worker.event_received.disconnect(self.coordinator.on_worker_event)
        if self._owns_worker:
            self.worker.shutdown(wait_ms=QUIT_WORKER_WAIT_MS)
        self.store.close()
        if self._heap_frozen:  # collectable again (tests build many apps in one process)
            gc.unfreeze()


def _worker_log_env() -> dict[str, str]:
    """The worker logs at DEBUG when the app does (its lines land in the app's log)."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return {"CHATDESK_WORKER_LOG_LEVEL": "DEBUG"}
    return {}


def _settings_resolver() -> ModelResolver:
    """The model of each run, from the settings as they are when it starts."""
    from chatdesk.runs.model_choice import make_model_resolver
    from chatdesk.runs.model_settings import read_model_settings

    return make_model_resolver(read_model_settings)


def _open_store_or_explain(url: str, backups: Path) -> Store | None:
    """Open the database; on failure say why, and offer a backup when it is damaged.

    Upgrading an existing database runs off the GUI thread behind a progress window
    (chatdesk/ui/upgrade_window.py); an up-to-date one opens right here, no window.
    """
    from PySide6.QtWidgets import QMessageBox

    from chatdesk.store.backup import list_backups, restore_backup
    from chatdesk.store.errors import DamagedDatabaseError, StoreError, UpgradeCancelled
    from chatdesk.store.migrate import open_store, upgrade_needed

    try:
        if upgrade_needed(url):
            from chatdesk.ui.upgrade_window import open_store_showing_progress

            return open_store_showing_progress(url, backups)
        return open_store(url, backup_dir=backups)
    except UpgradeCancelled as error:
        log.warning("quitting during the database upgrade: %s", error)
        return None
    except DamagedDatabaseError as error:
        log.error("damaged database: %s", error)
        available = list_backups(backups)
        if not available:
            QMessageBox.critical(None, "chatdesk cannot open its database", str(error))
            return None
        answer = QMessageBox.question(
            None,
            "chatdesk's database is damaged",
            f"{error}\n\nRestore the latest backup ({available[0].name})? The damaged "
            "file is kept beside it, renamed; nothing is deleted.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
        aside = restore_backup(Path(error.path), available[0])
        log.warning("restored %s; the damaged file was kept as %s", available[0], aside)
        return _open_store_or_explain(url, backups)
    except StoreError as error:
        log.error("cannot open the database: %s", error)
        QMessageBox.critical(None, "chatdesk cannot open its database", str(error))
        return None


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chatdesk", description="A desktop chat client.")
    parser.add_argument("--version", action="version", version=f"chatdesk {__version__}")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes; returns the process exit code."""
    args = _parse_args(argv)

    from chatdesk import qt_platform

    problem = qt_platform.check()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 4

    from PySide6.QtWidgets import QApplication, QMessageBox

    from chatdesk.config import backups_dir, data_dir, database_url
    from chatdesk.logs import configure_logging
    from chatdesk.quit_signals import QuitOnSignals
    from chatdesk.single_instance import SingleInstance

    directory = data_dir()
    log_path = configure_logging(directory, logging.DEBUG if args.debug else logging.INFO)
    qt_app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("chatdesk")
    qt_app.setOrganizationName("chatdesk")
    qt_app.setApplicationVersion(__version__)

    instance = SingleInstance(directory)
    if not instance.acquire():
        if instance.notify_running_instance():
            print("chatdesk is already running; its window was brought to the front.")
            return 0
        QMessageBox.critical(
            None,
            "chatdesk is already running",
            f"Another chatdesk holds {directory} but does not answer. Close it and try again.",
        )
        return 3

    store = _open_store_or_explain(database_url(directory), backups_dir(directory))
    if store is None:
        instance.release()
        return 2
    if store.backup is not None:
        log.info("backed up the database to %s before upgrading it", store.backup)

    import qasync

    loop = qasync.QEventLoop(qt_app)
    asyncio.set_event_loop(loop)
    app = ChatdeskApp(store, directory)
    from chatdesk.ui.exception_hook import ExceptionReporter

    reporter = ExceptionReporter(app.window, log_path)  # slots' and threads' exceptions
    reporter.install()
    loop.set_exception_handler(reporter.on_loop_exception)
    if app.recovered:
        log.info("marked %d interrupted run(s) as failed", app.recovered)
    instance.activation_requested.connect(app.bring_to_front)
    qt_app.aboutToQuit.connect(app.close)
    quit_signals = QuitOnSignals(qt_app)  # SIGTERM/SIGINT quit like the Quit action
    app.show()
    app.start_worker()
    try:
        with loop:
            loop.run_forever()
    finally:
        app.close()
        reporter.uninstall()
        loop.set_exception_handler(None)
        quit_signals.uninstall()
        instance.release()
    return 0
