"""What the upgrade window needs from the store: opening it, and the steps it reports.

Opening a database may back it up and migrate it (``chatdesk.store.migrate``); the
window shows those steps while it runs. It reaches them only through here, so the ui
never imports the store (the layer contract in pyproject.toml).
"""

from __future__ import annotations

from chatdesk.store.errors import UpgradeCancelled
from chatdesk.store.migrate import Store, open_store
from chatdesk.store.upgrade_progress import Stage, UpgradeMonitor, UpgradeStep

__all__ = ["Stage", "Store", "UpgradeCancelled", "UpgradeMonitor", "UpgradeStep", "open_store"]
