"""pytest plugin shipped to people who test chatdesk (registered under ``pytest11``).

Fixtures:
    chatdesk_loop: an asyncio event loop (qasync) that runs whenever Qt processes
        events, so ``qtbot.waitSignal`` and friends also drive chatdesk's asyncio tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture
def chatdesk_loop(qapp: object) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop marked as running on top of the Qt event loop pytest-qt spins."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            from PySide6.QtCore import QCoreApplication

            for _ in range(20):
                QCoreApplication.processEvents()
                if all(task.done() for task in pending):
                    break
        _close_already_running(loop)


def _close_already_running(loop: asyncio.AbstractEventLoop) -> None:
    """Close a qasync loop made with ``already_running=True`` without quitting the app.

    qasync's own ``stop()`` calls ``QApplication.exit()``, which would end the Qt loop
    pytest-qt still needs; this undoes only what the constructor did.
    """
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    loop._after_run_forever()  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)
