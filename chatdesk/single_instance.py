"""One chatdesk per data directory: a second launch hands over to the first.

The database has one writer by design. A ``QLockFile`` in the data directory decides
who owns it (stale locks of crashed processes are taken over); the owner listens on a
local socket named after the data directory, and a second launch only asks it to bring
its window to the front, then exits without opening the database.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from chatdesk.config import LOCK_FILE_NAME

ACTIVATE = b"activate\n"
CONNECT_TIMEOUT_MS = 1000


def socket_name(data_dir: Path) -> str:
    """A per-user, per-data-directory socket name (short: socket paths are limited)."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"chatdesk-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}"


class SingleInstance(QObject):
    """Owns the data directory for this process, or finds the process that does.

    Signals:
        activation_requested(): another launch asked this one to show its window.
    """

    activation_requested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = socket_name(data_dir)
        self._lock = QLockFile(str(data_dir / LOCK_FILE_NAME))
        self._lock.setStaleLockTime(0)  # only a dead owner's lock is stale
        self._server: QLocalServer | None = None

    def acquire(self) -> bool:
        """True if this process now owns the data directory (and listens for others)."""
        if not self._lock.tryLock(0):
            self._lock.removeStaleLockFile()
            if not self._lock.tryLock(0):
                return False
        QLocalServer.removeServer(self._name)  # a crashed owner may have left it
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.newConnection.connect(self._on_new_connection)
        server.listen(self._name)
        self._server = server
        return True

    def notify_running_instance(self) -> bool:
        """Ask the owner to show its window; True if it answered."""
        socket = QLocalSocket()
        socket.connectToServer(self._name)
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        socket.write(QByteArray(ACTIVATE))
        socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        return True

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server.deleteLater()
            self._server = None
        self._lock.unlock()

    def _on_new_connection(self) -> None:
        assert self._server is not None
        while (connection := self._server.nextPendingConnection()) is not None:
            connection.readyRead.connect(self._on_ready_read)
            connection.disconnected.connect(connection.deleteLater)

    def _on_ready_read(self) -> None:
        connection = self.sender()
        if isinstance(connection, QLocalSocket) and bytes(connection.readAll().data()).startswith(
            ACTIVATE.strip()
        ):
            self.activation_requested.emit()
