"""Start-up: data directory, database at head, the window, then the background parts.

The window is shown before anything slow starts. CrewAI never loads in this process:
crews run in a worker process started after the window is up.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from chatdesk import __version__

log = logging.getLogger(__name__)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chatdesk", description="A desktop chat client.")
    parser.add_argument("--version", action="version", version=f"chatdesk {__version__}")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes; returns the process exit code."""
    args = _parse_args(argv)

    from PySide6.QtWidgets import QApplication, QMessageBox

    from chatdesk.config import backups_dir, data_dir, database_url
    from chatdesk.logs import configure_logging
    from chatdesk.services import Services
    from chatdesk.store.errors import StoreError
    from chatdesk.store.migrate import open_store

    directory = data_dir()
    configure_logging(directory, logging.DEBUG if args.debug else logging.INFO)
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("chatdesk")
    app.setOrganizationName("chatdesk")
    app.setApplicationVersion(__version__)

    try:
        store = open_store(database_url(directory), backup_dir=backups_dir(directory))
    except StoreError as error:
        log.error("cannot open the database: %s", error)
        QMessageBox.critical(None, "chatdesk cannot open its database", str(error))
        return 2
    if store.backup is not None:
        log.info("backed up the database to %s before upgrading it", store.backup)

    from chatdesk.ui.main_window import MainWindow

    services = Services(store)
    window = MainWindow(services, services.users.ensure())
    window.show()

    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    try:
        with loop:
            loop.run_until_complete(closed.wait())
    finally:
        store.close()
    return 0
