"""The window's own preferences: geometry, splitter, last thread, theme.

They live in an INI file beside the database (``<data dir>/ui.ini``), not in the
platform registry, so that a test's ``CHATDESK_DATA_DIR`` isolates them and a person
can back up or delete one folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from chatdesk.config import data_dir
from chatdesk.ui.theme import ThemeMode

ORGANIZATION = "chatdesk"
APPLICATION = "chatdesk"
SETTINGS_FILE_NAME = "ui.ini"


def settings_path() -> Path:
    return data_dir() / SETTINGS_FILE_NAME


class UiSettings:
    """Typed access to ``ui.ini``; unreadable values fall back to defaults."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else settings_path()
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._qs.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._qs.setValue("window/state", value)

    @property
    def splitter_state(self) -> QByteArray | None:
        return self._bytes("window/splitter")

    @splitter_state.setter
    def splitter_state(self, value: QByteArray) -> None:
        self._qs.setValue("window/splitter", value)

    @property
    def last_thread_id(self) -> int | None:
        value = self._qs.value("session/lastThreadId")
        try:
            number = int(str(value))
        except (TypeError, ValueError):
            return None
        return number if number > 0 else None

    @last_thread_id.setter
    def last_thread_id(self, value: int | None) -> None:
        self._qs.setValue("session/lastThreadId", value or 0)

    @property
    def theme(self) -> ThemeMode:
        value = str(self._qs.value("appearance/theme", ThemeMode.SYSTEM.value))
        try:
            return ThemeMode(value)
        except ValueError:
            return ThemeMode.SYSTEM

    @theme.setter
    def theme(self, value: ThemeMode) -> None:
        self._qs.setValue("appearance/theme", ThemeMode(value).value)

    def sync(self) -> None:
        self._qs.sync()
