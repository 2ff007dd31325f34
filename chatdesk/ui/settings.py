"""The app's preferences: the window's geometry and theme, and the model settings.

They live in an INI file beside the database (``<data dir>/ui.ini``), not in the
platform registry, so that a test's ``CHATDESK_DATA_DIR`` isolates them and a person
can back up or delete one folder. API keys are never kept here: they go to the OS
keyring through :mod:`chatdesk.secrets`. Runs read the model settings from the same
file without Qt (:mod:`chatdesk.runs.model_settings`).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from chatdesk.config import settings_path
from chatdesk.runs.providers import ENV_MODEL, LocalServer
from chatdesk.ui.setup.provider_choices import local_provider
from chatdesk.ui.theme import ThemeMode

DEFAULT_CREW = "assistant"
FONT_SIZE_RANGE = (8, 24)  # points; 0 means the platform's default size

ORGANIZATION = "chatdesk"
APPLICATION = "chatdesk"


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

    @property
    def font_size(self) -> int:
        """The chat text size in points, 0 for the platform's default."""
        size = self._int("appearance/fontSize")
        low, high = FONT_SIZE_RANGE
        return size if size is not None and low <= size <= high else 0

    @font_size.setter
    def font_size(self, value: int) -> None:
        self._qs.setValue("appearance/fontSize", int(value))

    # -- model -----------------------------------------------------------------------

    def _text(self, key: str, default: str = "") -> str:
        value = self._qs.value(key, default)
        return value.strip() if isinstance(value, str) else default

    def _int(self, key: str) -> int | None:
        try:
            return int(str(self._qs.value(key)))
        except (TypeError, ValueError):
            return None

    def _set_text(self, key: str, value: str | None) -> None:
        if value and value.strip():
            self._qs.setValue(key, value.strip())
        else:
            self._qs.remove(key)

    @property
    def provider(self) -> str:
        """The picked provider's id (see ``chatdesk.ui.setup.provider_choices``)."""
        return self._text("model/provider")

    @provider.setter
    def provider(self, value: str | None) -> None:
        self._set_text("model/provider", value)

    @property
    def model(self) -> str:
        """A CrewAI model string such as ``ollama/llama3.2``; empty when none is set."""
        return self._text("model/model")

    @model.setter
    def model(self, value: str | None) -> None:
        self._set_text("model/model", value)

    @property
    def base_url(self) -> str:
        return self._text("model/baseUrl")

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self._set_text("model/baseUrl", value)

    @property
    def default_crew(self) -> str:
        """The crew new chats start with."""
        return self._text("chat/defaultCrew") or DEFAULT_CREW

    @default_crew.setter
    def default_crew(self, value: str | None) -> None:
        self._set_text("chat/defaultCrew", value)

    def use_local_server(self, server: LocalServer, model: str | None = None) -> None:
        """Make a server found on this computer (and one of its models) the default."""
        choice = local_provider(server.kind)
        config = server.model_config(model)
        self.provider = choice.id if choice is not None else server.kind
        self.model = config.model
        self.base_url = config.base_url
        self.sync()

    def sync(self) -> bool:
        """Write what changed to ``ui.ini``; False when the file could not be written
        (a full disk, a read-only file): the values then live only in this process."""
        if self._qs.status() != QSettings.Status.NoError:
            # A QSettings keeps its first error for good (and one made while the disk
            # is full starts with it): carry the values over to a fresh one now.
            failed = self._qs
            self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)
            for key in failed.allKeys():
                self._qs.setValue(key, failed.value(key))
        self._qs.sync()
        return self._qs.status() == QSettings.Status.NoError


def configured_model(settings: UiSettings | None = None) -> str:
    """The model replies would use by default: ``CHATDESK_LLM_MODEL``, else the settings'."""
    from_env = os.environ.get(ENV_MODEL, "").strip()
    if from_env:
        return from_env
    return (settings or UiSettings()).model
