"""Every preference chatdesk keeps in ``<data dir>/ui.ini``, declared once: key, type, default.

Why a module of its own: the window writes these keys through QSettings
(``chatdesk.ui.settings``) and the runs read the model's without Qt
(``chatdesk.runs.model_settings``); both name a key through these declarations, so a
key is spelled, typed and defaulted in one place. Imports no layer: every layer may
import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Preference(Generic[T]):
    """One ``ui.ini`` key: ``section/name``, the type of its value and what it is when unset.

    ``kind`` is ``str``, ``int``, ``float`` or ``bytes`` (window state Qt saves).
    """

    key: str
    kind: type
    default: T

    @property
    def section(self) -> str:
        return self.key.partition("/")[0]

    @property
    def name(self) -> str:
        return self.key.partition("/")[2]


# -- the model replies come from (read by the runs at every run) ----------------------
PROVIDER = Preference("model/provider", str, "")
"""The picked provider's id (``chatdesk.ui.setup.provider_choices``)."""
MODEL = Preference("model/model", str, "")
"""A CrewAI model string such as ``ollama/llama3.2``; empty when none is set."""
BASE_URL = Preference("model/baseUrl", str, "")
TIMEOUT_S: Preference[float | None] = Preference("model/timeoutS", float, None)
"""A run's total deadline in seconds; unset (or not above zero) uses the default."""
MAX_TOKENS: Preference[int | None] = Preference("model/maxTokens", int, None)
VISION = Preference("model/vision", str, "auto")
"""Whether the model in settings sees attached images: ``auto`` (what CrewAI says of the
model), ``images`` (it does) or ``text`` (text only: it is told their names instead)."""
VISION_CHOICES = ("auto", "images", "text")
MODEL_TITLES = Preference("model/titles", int, 1)
"""1: after a chat's first reply the model writes its title (one small request); 0: the
chat keeps the first line of its first message (for people who pay per request)."""

# -- chats ----------------------------------------------------------------------------
DEFAULT_CREW = Preference("chat/defaultCrew", str, "assistant")
"""The crew new chats start with."""
LAST_THREAD_ID: Preference[int | None] = Preference("session/lastThreadId", int, None)

# -- appearance and the window ----------------------------------------------------------
THEME = Preference("appearance/theme", str, "system")
"""A ``chatdesk.ui.theme.ThemeMode`` value."""
FONT_SIZE = Preference("appearance/fontSize", int, 0)
"""The chat text size in points, 0 for the platform's default."""
FONT_SIZE_RANGE = (8, 24)
"""The sizes ``FONT_SIZE`` may take besides 0."""
GEOMETRY: Preference[bytes | None] = Preference("window/geometry", bytes, None)
WINDOW_STATE: Preference[bytes | None] = Preference("window/state", bytes, None)
SPLITTER_STATE: Preference[bytes | None] = Preference("window/splitter", bytes, None)

MODEL_KEYS: frozenset[str] = frozenset(
    p.key for p in (PROVIDER, MODEL, BASE_URL, TIMEOUT_S, MAX_TOKENS)
)
"""What decides which model answers: a change to any of these changes the default model."""
