"""The model settings as saved in ``<data dir>/ui.ini``, read without Qt.

Why not through ``chatdesk.ui.settings``: the model of every run is decided here, in
the runs layer, which must not depend on the window (and a headless run has no
window). The window writes the file with QSettings; this reads its ``[model]`` section
(keys declared once in :mod:`chatdesk.preferences`) the way QSettings does: quoted
values with backslash escapes, ``@@`` for a leading ``@``, ``@String(...)`` for a text
holding NUL. A value QSettings would not return as one string (a list, a ``@Variant``)
reads as unset, as it does in the window. A missing or unreadable file means no
settings: the run then says how to set a model up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from chatdesk import preferences as pref
from chatdesk.config import settings_path

log = logging.getLogger(__name__)
_Number = TypeVar("_Number", int, float)

SECTION = pref.MODEL.section
# QSettings' simple escapes (qsettings.cpp, iniUnescapedStringList).
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "?": "?",
}
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")
_LINE_END = re.compile(r"\r\n|\r|\n")


def read_model_settings(path: Path | None = None) -> dict[str, Any]:
    """``provider``, ``model``, ``base_url`` (empty when unset), ``timeout_s``, ``max_tokens``,
    ``vision`` (one of ``preferences.VISION_CHOICES``; ``auto`` when unset or unknown),
    ``titles`` (whether the model writes new chats' titles; on when unset).

    What :func:`chatdesk.runs.model_choice.make_model_resolver` reads, afresh at every
    call: the settings dialog may have changed the file since.
    """
    values = _read_section(path if path is not None else settings_path(), SECTION)
    return {
        "provider": _text(values.get(pref.PROVIDER.name)),
        "model": _text(values.get(pref.MODEL.name)),
        "base_url": _text(values.get(pref.BASE_URL.name)),
        "timeout_s": _positive(values.get(pref.TIMEOUT_S.name), float),
        "max_tokens": _positive(values.get(pref.MAX_TOKENS.name), int),
        "vision": _choice(values.get(pref.VISION.name), pref.VISION_CHOICES, pref.VISION.default),
        "titles": _flag(values.get(pref.MODEL_TITLES.name), pref.MODEL_TITLES.default),
    }


def _flag(value: str | None, default: int) -> bool:
    """An int switch as QSettings writes it; anything but a number is the default."""
    try:
        return int(_text(value)) != 0
    except ValueError:
        return bool(default)


def _choice(value: str | None, choices: tuple[str, ...], default: str) -> str:
    text = _text(value).lower()
    return text if text in choices else default


def _text(value: str | None) -> str:
    return value.strip() if value is not None else ""


def _positive(value: str | None, kind: Callable[[str], _Number]) -> _Number | None:
    """The number in ``value`` if it is one and above zero (as the window reads it)."""
    try:
        number = kind(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


def _read_section(path: Path, section: str) -> dict[str, str | None]:
    """The keys of one ``[section]`` of a QSettings INI file and their string values."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")  # as Qt, skip a BOM
    except FileNotFoundError:
        return {}
    except OSError as error:
        log.warning("The settings in %s cannot be read (%s); using none.", path, error)
        return {}
    values: dict[str, str | None] = {}
    current = ""
    for line in _LINE_END.split(text):  # not splitlines(): U+0085 or U+2028 is text
        stripped = line.strip()
        if not stripped or stripped.startswith((";", "#")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1].strip()
        elif current == section and "=" in stripped:
            key, raw = stripped.split("=", 1)
            values[key.strip()] = qsettings_string(raw)
    return values


def qsettings_string(raw: str) -> str | None:
    """What ``QSettings.value()`` returns for an INI value, if that is one string."""
    raw = raw.strip()
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        i += 1
        if ch == '"':
            quoted = not quoted
        elif ch == "\\" and i < len(raw):
            ch = raw[i]
            i += 1
            if ch in _ESCAPES:
                out.append(_ESCAPES[ch])
            elif ch == "x":
                digits = ""
                while i < len(raw) and raw[i] in _HEX:
                    digits += raw[i]
                    i += 1
                out.append(chr(int(digits, 16)) if digits else "x")
            elif ch in _OCTAL:
                digits = ch
                while i < len(raw) and raw[i] in _OCTAL:
                    digits += raw[i]
                    i += 1
                out.append(chr(int(digits, 8)))
            else:
                out.append(ch)
        elif ch == "," and not quoted:
            return None  # QSettings reads a list
        elif ch == ";" and not quoted:
            break  # a comment
        else:
            out.append(ch)
    value = "".join(out)
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@String(") and value.endswith(")"):
        return value[len("@String(") : -1]  # how QSettings writes a text holding NUL
    if value.startswith("@") and value.endswith(")"):
        return None  # @Variant(...), @ByteArray(...): not text
    return value
