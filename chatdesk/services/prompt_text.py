"""A saved prompt's variables: ``{{name}}`` and ``{{name|default}}``, found and filled.

Kept apart from the service so the window can fill a prompt without a database. A
variable name is a letter or ``_`` then letters, digits, ``_``, ``-``, ``.`` or spaces
(up to 40); anything else between braces (``{{ }}``, ``{{1}}``, a JSON snippet) is plain
text and stays as written. The same variable used twice is asked once; its default is
the first non-empty one given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NAME_CHARS = 40
MAX_VARIABLES = 20
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w .-]{0,39}?)\s*(?:\|([^{}\n]*))?\}\}")
"""``{{ name }}`` or ``{{name|default}}``: the name (spaces around it ignored) and the
default (as written, possibly empty), both on one line."""


@dataclass(frozen=True)
class Variable:
    """One value the person is asked for before the prompt is inserted."""

    name: str
    default: str = ""


def variables(text: str) -> list[Variable]:
    """The variables of ``text`` in order of first use, each once, with the first
    default given (``findall`` does the scanning in C: a file of 2,000 long prompts is
    checked in a fraction of a second)."""
    found: dict[str, str] = {}
    for name, default in dict.fromkeys(VARIABLE.findall(text)):
        if not found.get(name):
            found[name] = default
    return [Variable(name, default) for name, default in found.items()]


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with every variable replaced by its value (its default when not given).

    Values are inserted literally: a value that itself looks like ``{{x}}`` is not
    filled again.
    """

    defaults = {variable.name: variable.default for variable in variables(text)}

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name, defaults.get(name, ""))

    return VARIABLE.sub(value_of, text)
