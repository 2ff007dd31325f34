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
    from PySide6.QtCore import QTimer

    from chatdesk.engine.client import WorkerClient
    from chatdesk.runs.coordinator import Coordinator
    from chatdesk.runs.model_choice import ModelResolver
    from chatdesk.services import Services
    from chatdesk.services.live_sync import LiveSync
    from chatdesk.single_instance import SingleInstance
    from chatdesk.store.errors import DamagedDatabaseError, DamagedSchemaError
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
        live: on a shared PostgreSQL, hears the other desktops' changes.
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
        start_worker_now: bool = False,
    ) -> None:
        from chatdesk.config import attachments_dir
        from chatdesk.engine.client import WorkerClient
        from chatdesk.runs.chat_titles import ChatTitles
        from chatdesk.runs.coordinator import DEFAULT_DEADLINE_S, Coordinator
        from chatdesk.runs.tool_access import ToolAccessSource
        from chatdesk.services import Services
        from chatdesk.services.patience import patiently
        from chatdesk.ui.main_window import MainWindow

        self.store = store
        self.services: Services = Services(store, attachments_dir=attachments_dir(data_dir))
        # before the window shows, a lock another program holds is waited out
        self.recovered = patiently(self.services.executions.recover_interrupted)
        self.user_id = patiently(self.services.users.ensure)
        skipped = patiently(self.services.users.privacy_skipped)
        if skipped is not None:  # the administrator's or one person's database
            log.info("row-level security does not apply: %s; it sees every person's rows", skipped)
        self._owns_worker = worker is None
        self.worker: WorkerClient = worker or WorkerClient(
            data_dir=data_dir, extra_env=_worker_log_env()
        )
        if start_worker_now:
            # CrewAI's import (seconds) overlaps building and showing the window, so
            # the first reply after a launch waits that much less.
            self.worker.start()
        self.window: MainWindow = MainWindow(self.services, self.user_id)
        self.tool_access = ToolAccessSource(data_dir, self.services.tool_rules.rules)
        resolver = resolve_model or _settings_resolver()
        self.coordinator: Coordinator = Coordinator(
            self.services,
            self.worker,
            resolver,
            max_concurrent=max_concurrent,
            deadline_s=deadline_s or DEFAULT_DEADLINE_S,
            tool_access=self.tool_access.for_thread,
        )
        self.titles = ChatTitles(self.services, self.user_id, self.worker, resolver, self.window)
        self.live = self._live_sync()
        self._sweep = self._expired_runs_sweep()
        from chatdesk.ui.gui_gc import GuiThreadCollector

        # Qt objects in garbage cycles die on the GUI thread, never on the listener's
        self._collector = GuiThreadCollector(self.window)
        self._collector.start()
        self._closed = False
        self._heap_frozen = False
        self._connect_signals()

    def _live_sync(self) -> LiveSync:
        """On a shared PostgreSQL: the other desktops' changes, live (a no-op on SQLite)."""
        from chatdesk.services.live_sync import LiveSync
        from chatdesk.ui.bridge import SyncState

        live = LiveSync(self.store, self.services.bus, self.services.owner)
        state = SyncState(self.window)
        state.online_changed.connect(self.window.set_sync_online)
        live.on_state(state.report)
        user_id = self.user_id
        self.coordinator.stop_elsewhere_with(lambda run: live.request_stop(user_id, run))
        live.start()
        return live

    def _expired_runs_sweep(self) -> QTimer:
        """Every ``SWEEP_EVERY_S``: runs another desktop left behind (it crashed or froze
        past its lease) are ended here, their text kept, instead of showing "processing"
        until somebody restarts."""
        from PySide6.QtCore import QTimer

        from chatdesk.services.leases import SWEEP_EVERY_S

        def sweep() -> None:
            try:
                recovered = self.services.executions.recover_expired()
            except Exception:  # a busy or unreachable database: the next round tries again
                log.warning("could not look for runs other desktops left", exc_info=True)
                return
            if recovered:
                log.info("ended %d run(s) another desktop left behind", recovered)

        timer = QTimer(self.window)
        timer.setInterval(int(SWEEP_EVERY_S * 1000))
        timer.timeout.connect(sweep)
        timer.start()
        return timer

    def _connect_signals(self) -> None:
        # worker -> coordinator -> window
        self.worker.event_received.connect(self.coordinator.on_worker_event)
        self.worker.event_received.connect(self.titles.on_worker_event)
        self.coordinator.run_finished.connect(self.titles.on_run_finished)
        # streamed text: held by the coordinator, shown by the message list
        messages = self.window.message_model
        messages.read_live_text_from(self.coordinator.live_text)
        self.coordinator.reply_text_changed.connect(messages.on_reply_text_changed)
        self.coordinator.save_failed.connect(self.window.on_reply_save_failed)
        self.worker.worker_ready.connect(self.window.on_engine_ready)
        self.worker.worker_ready.connect(self._warm_tools)
        self.worker.tools_listed.connect(self.tool_access.remember)
        self.window.header.tools_button.set_catalog(self.tool_access.catalog)
        self.worker.worker_died.connect(self.window.on_engine_restarting)
        self.coordinator.approval_changed.connect(self._show_approval)
        self.window.thread_opened.connect(self._show_approval)
        # window -> coordinator
        self.window.stop_requested.connect(self.coordinator.cancel)
        self.window.tool_approval.answered.connect(self._answer_approval)

    def _warm_tools(self, _ready: object = None) -> None:
        """Start the configured MCP servers in the worker while the person types."""
        try:
            self.worker.warm_tools(self.tool_access.for_warm_up())
        except Exception:  # a keyring that does not answer: runs will say why
            log.exception("could not warm up the tool servers")

    def _show_approval(self, _thread_id: int = 0) -> None:
        """The open chat's waiting tool call, if any, above the composer."""
        thread_id = self.window.current_thread_id
        pending = self.coordinator.pending_approval(thread_id) if thread_id else None
        self.window.show_tool_question(pending)

    def _answer_approval(self, execution_id: int, call_id: str, decision: str) -> None:
        from chatdesk.vocabulary import ApprovalDecision

        self.coordinator.answer_approval(execution_id, call_id, ApprovalDecision(decision))

    def show(self) -> None:
        from PySide6.QtCore import QTimer

        self.window.show()
        QTimer.singleShot(0, self._freeze_startup_heap)  # once the window has painted
        if self.services.imports.left_behind():  # a killed import: finish showing its chats
            self.window.tasks.start(
                "import-recovery", lambda _control: self.services.imports.recover(), gui_first=True
            )
        # attachments nobody sent within the hour, and files a crash left without a row
        self.window.tasks.start("attachment-sweep", lambda _control: self._sweep_attachments())

    def _sweep_attachments(self) -> None:
        """On a task: the sweep, then the texts of documents no longer stored."""
        self.services.attachments.sweep()
        self.services.document_texts.sweep(set(self.services.attachments.files.stored()))

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
        self.window.set_engine_starting(not self.worker.is_ready)
        self.worker.start()

    def close(self) -> None:
        """Stop runs (their text is kept, marked cancelled), the worker, the database."""
        if self._closed:
            return
        self._closed = True
        self.window.hide()  # a window still shown would paint from the closed store
        self._sweep.stop()
        self.live.stop()
        self.coordinator.shutdown()
        self.window.shutdown()
        self.worker.event_received.disconnect(self.coordinator.on_worker_event)
        self.worker.event_received.disconnect(self.titles.on_worker_event)
        if self._owns_worker:
            self.worker.shutdown(wait_ms=QUIT_WORKER_WAIT_MS)
        self.store.close()
        if self._heap_frozen:  # collectable again (tests build many apps in one process)
            gc.unfreeze()
        self._collector.stop()


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


def _explain(title: str, message: str) -> None:
    """One line on stderr (what a headless run shows), then the same words in a dialog."""
    from chatdesk.ui.setup.startup_dialogs import tell

    log.error("%s", message)
    tell(title, message)


def _open_store_or_explain(
    url: str, backups: Path, *, without_backup: bool = False
) -> Store | None:
    """Open the database; on failure say why and what to do, offering a repair when safe.

    Upgrading an existing database runs off the GUI thread behind a progress window
    (chatdesk/ui/setup/upgrade_window.py); an up-to-date one opens right here, no window.
    Lost indexes or search index: rebuilt after a backup if the person agrees. Other
    damage: the latest backup is offered (the damaged file kept aside). Declining
    leaves every file as it was.
    """
    from chatdesk.store.connection import sqlite_path
    from chatdesk.store.errors import (
        BackupUnavailableError,
        DamagedDatabaseError,
        DamagedSchemaError,
        StoreError,
        UpgradeCancelled,
    )
    from chatdesk.store.migrate import open_store, upgrade_needed
    from chatdesk.store.server_access import ServerAccessError

    try:
        if upgrade_needed(url):
            from chatdesk.ui.setup.upgrade_window import open_store_showing_progress

            return open_store_showing_progress(url, backups, without_backup=without_backup)
        return open_store(url, backup_dir=backups, without_backup=without_backup)
    except ServerAccessError as error:
        _explain(error.title, str(error))
        return None
    except BackupUnavailableError as error:
        if without_backup or not _upgrade_without_backup_if_agreed(error):
            return None
        return _open_store_or_explain(url, backups, without_backup=True)
    except UpgradeCancelled as error:
        log.warning("quitting during the database upgrade: %s", error)
        return None
    except DamagedSchemaError as error:
        if not error.damage.rebuildable or sqlite_path(url) is None:
            return _restore_if_agreed(url, backups, error)
        if _rebuild_if_agreed(url, backups, error):
            return _open_store_or_explain(url, backups)
        return None
    except DamagedDatabaseError as error:
        return _restore_if_agreed(url, backups, error)
    except StoreError as error:
        _explain("chatdesk cannot open its database", str(error))
        return None


def _upgrade_without_backup_if_agreed(error: Exception) -> bool:
    """Ask before upgrading a server's database that could not be backed up."""
    from chatdesk.ui.setup.startup_dialogs import ask

    log.warning("%s Asking whether to upgrade without a backup.", error)
    question = (
        f"{error}\n\nchatdesk must upgrade the database before it can open it. Upgrade "
        "it without a backup? (Quit, and the administrator can back it up first; "
        "nothing was changed.)"
    )
    return ask("No backup before the upgrade", question, "Upgrade without a backup")


def _rebuild_if_agreed(url: str, backups: Path, error: DamagedSchemaError) -> bool:
    """Offer to rebuild lost indexes; True once rebuilt (after a backup)."""
    from chatdesk.store.repair import rebuild_derived_data
    from chatdesk.ui.setup.startup_dialogs import ask

    log.error("%s chatdesk offers to rebuild it after a backup; quitting changes nothing.", error)
    question = (
        f"{error}\n\nchatdesk can rebuild what is missing from your messages; nothing of "
        f"your chats is lost. A backup of the database is made first, in {backups}."
    )
    if not ask("chatdesk's database needs a repair", question, "Back up and rebuild"):
        return False
    try:
        backup = rebuild_derived_data(url, backups)
    except Exception as failure:  # disk full, a lock, a file gone read-only: say so
        _explain(
            "chatdesk could not repair its database",
            f"Rebuilding {error.path} failed and was rolled back ({failure}); the database "
            f"is as it was. Restore a backup from {backups}, or try again.",
        )
        return False
    log.warning("rebuilt %s after backing it up to %s", error.damage.describe(), backup)
    return True


def _restore_if_agreed(url: str, backups: Path, error: DamagedDatabaseError) -> Store | None:
    """Offer the latest backup in place of a damaged database (kept aside, renamed)."""
    from chatdesk.store.backup import list_backups, restore_backup
    from chatdesk.store.connection import sqlite_path
    from chatdesk.ui.setup.startup_dialogs import ask

    if sqlite_path(url) is None:
        _explain(
            "chatdesk cannot open its database",
            f"{error} Restore the database from its server's backups; chatdesk changed nothing.",
        )
        return None
    available = list_backups(backups)
    if not available:
        _explain(
            "chatdesk cannot open its database",
            f"{error} Restore it from a backup of your own (chatdesk keeps its backups in "
            f"{backups}, and has none there yet); chatdesk changed nothing.",
        )
        return None
    log.error("%s Its latest backup is %s.", error, available[0])
    question = (
        f"{error}\n\nRestore the latest backup ({available[0].name})? The damaged "
        "file is kept beside it, renamed; nothing is deleted."
    )
    if not ask("chatdesk's database is damaged", question, "Restore the backup"):
        return None
    aside = restore_backup(Path(error.path), available[0])
    log.warning("restored %s; the damaged file was kept as %s", available[0], aside)
    return _open_store_or_explain(url, backups)


def prepare_data_dir(directory: Path, url: str) -> bool:
    """Check, then create the data directory (private).

    Nothing is written (no folder made, no mode changed) when a check fails: then the
    person is told which file and what to do, and False is returned.
    """
    from chatdesk.config import ensure_private_dir
    from chatdesk.file_checks import find_file_problem
    from chatdesk.store.connection import sqlite_path

    problem = find_file_problem(directory, sqlite_path(url))
    if problem is not None:
        _explain("chatdesk cannot use its files", problem.message())
        return False
    try:
        ensure_private_dir(directory)
    except OSError as error:
        _explain("chatdesk cannot use its files", f"{directory}: {error.strerror}.")
        return False
    return True


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chatdesk", description="A desktop chat client.")
    parser.add_argument("--version", action="version", version=f"chatdesk {__version__}")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    return parser.parse_args(argv)


def _open_data(debug: bool) -> tuple[Path, Path, SingleInstance, Store] | int:
    """Check and open the data directory, take it over, open the database.

    Returns (data dir, log file, instance, store), or the exit code when start-up cannot
    go on (the person was told why).
    """
    from PySide6.QtWidgets import QMessageBox

    from chatdesk.config import backups_dir, data_dir, database_url
    from chatdesk.logs import configure_logging
    from chatdesk.private_files import make_tree_private
    from chatdesk.single_instance import SingleInstance

    directory = data_dir(create=False)
    url = database_url(directory)
    if not prepare_data_dir(directory, url):
        return 2
    log_path = configure_logging(directory, logging.DEBUG if debug else logging.INFO)

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

    store = _open_store_or_explain(url, backups_dir(directory, create=False))
    if store is None:
        instance.release()
        return 2
    if store.backup is not None:
        log.info("backed up the database to %s before upgrading it", store.backup)
    make_tree_private(directory)  # only now: a refused start leaves every mode as it was
    return directory, log_path, instance, store


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes; returns the process exit code.

    A sub-command (``chatdesk export ...``) runs instead, before Qt is imported.
    """
    from chatdesk.commands import run

    code = run(sys.argv[1:] if argv is None else list(argv))
    if code is not None:
        return code
    args = _parse_args(argv)

    from chatdesk import qt_platform

    problem = qt_platform.check()
    if problem is not None:  # Qt would abort with a misleading message
        print(problem, file=sys.stderr)
        return 4

    from chatdesk.private_files import restrict_new_files

    restrict_new_files()  # before anything is written (the worker inherits it)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from chatdesk.quit_signals import QuitOnSignals
    from chatdesk.ui.setup.startup_dialogs import answering_signals, quit_requested

    qt_app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("chatdesk")
    qt_app.setOrganizationName("chatdesk")
    qt_app.setApplicationVersion(__version__)
    # Until the window's own handler is in place, SIGTERM answers a start-up dialog
    # with Quit, or (no dialog) is remembered and quits as soon as the app is built.
    startup_signals = answering_signals()
    try:
        opened = _open_data(args.debug)
        if isinstance(opened, int):
            return opened
        directory, log_path, instance, store = opened

        import qasync

        loop = qasync.QEventLoop(qt_app)
        asyncio.set_event_loop(loop)
        app = ChatdeskApp(store, directory, start_worker_now=True)
    finally:
        startup_signals.uninstall()
    from chatdesk.ui.exception_hook import ExceptionReporter

    reporter = ExceptionReporter(app.window, log_path)  # slots', threads', tasks' errors
    reporter.install()
    loop.set_exception_handler(reporter.on_loop_exception)
    quit_signals = QuitOnSignals(qt_app)  # SIGTERM/SIGINT quit like the Quit action
    if app.recovered:
        log.info("marked %d interrupted run(s) as failed", app.recovered)
    instance.activation_requested.connect(app.bring_to_front)
    qt_app.aboutToQuit.connect(app.close)
    if quit_requested():
        QTimer.singleShot(0, qt_app.quit)
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
