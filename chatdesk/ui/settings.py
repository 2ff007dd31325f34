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
from typing import Any, TypeVar, cast

from PySide6.QtCore import QByteArray, QObject, QSettings, Signal

from chatdesk import preferences as pref
from chatdesk.config import settings_path
from chatdesk.preferences import FONT_SIZE_RANGE, Preference
from chatdesk.runs.providers import ENV_MODEL, LocalServer
from chatdesk.ui.setup.provider_choices import local_provider
from chatdesk.ui.theme import ThemeMode

T = TypeVar("T")

ORGANIZATION = "chatdesk"
APPLICATION = "chatdesk"


class UiSettings(QObject):
    """Typed access to ``ui.ini`` (keys declared in ``chatdesk.preferences``);
    unreadable values fall back to their defaults.

    Signals:
        changed: a preference took a new value (str key, e.g. ``appearance/theme``), so
            each widget follows the keys it shows instead of being told by hand.
    """

    changed = Signal(str)

    def __init__(self, path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path if path is not None else settings_path()
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    # -- any preference ----------------------------------------------------------------

    def value(self, preference: Preference[T]) -> T:
        """The value of ``preference``, or its default when unset or unreadable."""
        raw = self._qs.value(preference.key)
        kind = preference.kind
        read: Any = None
        if kind is bytes:
            if isinstance(raw, QByteArray) and not raw.isEmpty():
                read = raw
        elif kind is str:
            read = raw.strip() or None if isinstance(raw, str) else None
        elif raw is not None:
            try:
                read = kind(str(raw))
            except (TypeError, ValueError):
                read = None
        return cast(T, preference.default if read is None else read)

    def set_value(self, preference: Preference[T], value: T | QByteArray | None) -> None:
        """Store ``value`` (None or blank text removes the key); ``changed`` when it differs."""
        before = self.value(preference)
        stored = value.strip() if isinstance(value, str) else value
        if stored is None or (isinstance(stored, str) and not stored):
            self._qs.remove(preference.key)
        else:
            self._qs.setValue(preference.key, stored)
        if self.value(preference) != before:
            self.changed.emit(preference.key)

    # -- the window ----------------------------------------------------------------------

    @property
    def geometry(self) -> QByteArray | None:
        return cast(QByteArray | None, self.value(pref.GEOMETRY))

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.set_value(pref.GEOMETRY, value)

    @property
    def window_state(self) -> QByteArray | None:
        return cast(QByteArray | None, self.value(pref.WINDOW_STATE))

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self.set_value(pref.WINDOW_STATE, value)

    @property
    def splitter_state(self) -> QByteArray | None:
        return cast(QByteArray | None, self.value(pref.SPLITTER_STATE))

    @splitter_state.setter
    def splitter_state(self, value: QByteArray) -> None:
        self.set_value(pref.SPLITTER_STATE, value)

    @property
    def last_thread_id(self) -> int | None:
        number = self.value(pref.LAST_THREAD_ID)
        return number if number is not None and number > 0 else None

    @last_thread_id.setter
    def last_thread_id(self, value: int | None) -> None:
        self.set_value(pref.LAST_THREAD_ID, value or None)

    @property
    def theme(self) -> ThemeMode:
        try:
            return ThemeMode(self.value(pref.THEME))
        except ValueError:
            return ThemeMode.SYSTEM

    @theme.setter
    def theme(self, value: ThemeMode) -> None:
        self.set_value(pref.THEME, ThemeMode(value).value)

    @property
    def font_size(self) -> int:
        """The chat text size in points, 0 for the platform's default."""
        size = self.value(pref.FONT_SIZE)
        low, high = FONT_SIZE_RANGE
        return size if low <= size <= high else 0

    @font_size.setter
    def font_size(self, value: int) -> None:
        self.set_value(pref.FONT_SIZE, int(value))

    # -- model -----------------------------------------------------------------------

    @property
    def provider(self) -> str:
        """The picked provider's id (see ``chatdesk.ui.setup.provider_choices``)."""
        return self.value(pref.PROVIDER)

    @provider.setter
    def provider(self, value: str | None) -> None:
        self.set_value(pref.PROVIDER, value)

    @property
    def model(self) -> str:
        """A CrewAI model string such as ``ollama/llama3.2``; empty when none is set."""
        return self.value(pref.MODEL)

    @model.setter
    def model(self, value: str | None) -> None:
        self.set_value(pref.MODEL, value)

    @property
    def base_url(self) -> str:
        return self.value(pref.BASE_URL)

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self.set_value(pref.BASE_URL, value)

    @property
    def vision(self) -> str:
        """Whether the model sees attached images: one of ``pref.VISION_CHOICES``."""
        value = self.value(pref.VISION)
        return value if value in pref.VISION_CHOICES else pref.VISION.default

    @vision.setter
    def vision(self, value: str) -> None:
        self.set_value(pref.VISION, value if value in pref.VISION_CHOICES else None)

    @property
    def model_titles(self) -> bool:
        """Whether the model writes a new chat's title after its first reply."""
        return bool(self.value(pref.MODEL_TITLES))

    @model_titles.setter
    def model_titles(self, value: bool) -> None:
        self.set_value(pref.MODEL_TITLES, None if value else 0)

    @property
    def default_crew(self) -> str:
        """The crew new chats start with."""
        return self.value(pref.DEFAULT_CREW)

    @default_crew.setter
    def default_crew(self, value: str | None) -> None:
        self.set_value(pref.DEFAULT_CREW, value)

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
