"""The window a bench child measures: offscreen, over a data dir's database."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from chatdesk.store.migrate import Store
    from chatdesk.ui.main_window import MainWindow


@dataclass
class BenchWindow:
    app: QApplication
    store: Store
    window: MainWindow

    def close(self) -> None:
        self.window.close()
        self.store.close()


def open_window(data_dir: Path, width: int = 1000, height: int = 800) -> BenchWindow:
    """chatdesk's main window on ``data_dir`` (its database and attachments), shown."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from chatdesk.bench.probe import wait_until
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store
    from chatdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    store = open_store(f"sqlite:///{data_dir / 'chatdesk.db'}")
    services = Services(store, attachments_dir=data_dir / "attachments")
    window = MainWindow(services, services.users.ensure())
    window.resize(width, height)
    window.show()
    wait_until(app, lambda: window.isVisible())
    return BenchWindow(app, store, window)
