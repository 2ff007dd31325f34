"""A saved prompt's variables: ``{{name}}`` and ``{{name|default}}``, found and filled.

Kept apart from the service so the window can fill a prompt without a database. A
variable name is a letter or ``_`` then letters, digits, ``_``, ``-``, ``.`` or spaces
(up to 40); anything else between braces (``{{ }}``, ``{{1}}``, a JSON snippet) is plain
text and stays as written. The same variable used twice is asked once; its default is
the first one given.
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
    """The variables of ``text`` in order of first use, each once."""
    found: dict[str, str | None] = {}
    for match in VARIABLE.finditer(text):
        name, default = match.group(1), match.group(2)
        if found.get(name) is None:
            found[name] = default
    return [Variable(name, default or "") for name, default in found.items()]


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
