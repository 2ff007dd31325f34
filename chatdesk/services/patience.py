"""How long, and how, a write that found the database busy is tried again.

A GUI-thread write gives up on another connection's lock after 100 ms
(``unit_of_work.FOREGROUND_BUSY_TIMEOUT_MS``) so the window never freezes; the caller
tries again after each pause of ``BUSY_RETRY_DELAYS_S`` (about 5 s in all, the store's
own busy timeout) and then lets the busy ``StorageError`` through. The window does it
from a timer (``ui.busy_retry``), a coroutine with ``patiently_async``, start-up (no
window painted yet) with ``patiently``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from chatdesk.services.errors import StorageError, StorageFault

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_RETRY_DELAYS_S = (0.15, 0.3, 0.6, 1.0, 1.5, 1.5)
"""Pauses before each further attempt: ~5 s in all, each attempt waits 0.1 s at most."""


def is_busy(error: Exception) -> bool:
    return isinstance(error, StorageError) and error.kind is StorageFault.BUSY


def patiently(action: Callable[[], T]) -> T:
    """``action()``, tried again while the database is busy (blocking: not for the GUI)."""
    for delay in BUSY_RETRY_DELAYS_S:
        try:
            return action()
        except StorageError as error:
            if not is_busy(error):
                raise
            log.info("database busy; trying again in %.2f s", delay)
        time.sleep(delay)
    return action()


async def patiently_async(action: Callable[[], T]) -> T:
    """``action()``, tried again while the database is busy; the event loop runs between."""
    for delay in BUSY_RETRY_DELAYS_S:
        try:
            return action()
        except StorageError as error:
            if not is_busy(error):
                raise
            log.info("database busy; trying again in %.2f s", delay)
        await asyncio.sleep(delay)
    return action()
