"""Role names of the models, derived from their role enums (``MessageId`` -> ``messageId``).

Testers address model data by these names (``roleNames()``), so they follow one rule
instead of hand-written tables that can drift from the enums.
"""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import QByteArray


def role_names(roles: type[IntEnum]) -> dict[int, QByteArray]:
    """``{role: b"lowerCamelName"}`` for every member of ``roles``."""
    return {int(r): QByteArray((r.name[:1].lower() + r.name[1:]).encode()) for r in roles}
