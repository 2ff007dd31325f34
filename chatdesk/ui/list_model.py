"""One base for the window's list models: their rows, a row found by id, their role names.

The message list, the chat list and the search results each kept a list of rows and
the rows' ids beside it, found a row by its id, named their roles from an enum and
guarded ``data()`` the same way, each by hand. ``ListModel`` does that once. A model
says what its rows are (``row_id``), what a row shows for a role (``row_data``) and
which enum holds its roles (``roles``: ``MessageId`` is named ``messageId``, so testers
address data by name). Rows change only through the helpers here, each one Qt
notification, so the id index never drifts from the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

Index = QModelIndex | QPersistentModelIndex
"""What Qt hands a model or a delegate as an index."""
ROOT = QModelIndex()
ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

Row = TypeVar("Row")


class Roles(IntEnum):
    """Base of a model's role enum: members made with ``auto()`` are numbered from Qt's
    ``UserRole + 1`` in the order written."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[int]) -> int:
        return int(Qt.ItemDataRole.UserRole) + 1 + count


@cache
def role_names(roles: type[IntEnum]) -> dict[int, QByteArray]:
    """``{role: b"lowerCamelName"}`` for every member of ``roles``."""
    return {int(r): QByteArray((r.name[:1].lower() + r.name[1:]).encode()) for r in roles}


def changed_roles(fields: Iterable[object] | None, table: Mapping[str, Iterable[int]]) -> set[int]:
    """The roles that show the changed ``fields`` (a change's field names), by ``table``."""
    roles: set[int] = set()
    for name in fields or ():
        roles.update(table.get(str(name), ()))
    return roles


class ListModel(QAbstractListModel, Generic[Row]):
    """Rows of one kind, each with a unique int id, in the order shown.

    Subclasses set ``roles`` and implement ``row_id`` and ``row_data``.
    """

    roles: ClassVar[type[IntEnum]]
    row_flags: ClassVar[Qt.ItemFlag] = ROW_FLAGS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._ids: list[int] = []  # row_id of each row, in row order
        self._index: dict[int, int] | None = None  # id -> row, rebuilt after a change

    # -- what a subclass says --------------------------------------------------------

    def row_id(self, row: Row) -> int:
        raise NotImplementedError

    def row_data(self, row: Row, role: int) -> Any:
        raise NotImplementedError

    # -- Qt --------------------------------------------------------------------------

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        return dict(role_names(self.roles))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self.row_data(self._rows[index.row()], role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        return self.row_flags if index.isValid() else Qt.ItemFlag.NoItemFlags

    # -- reading ---------------------------------------------------------------------

    def row_of(self, row_id: int) -> int | None:
        """The row holding ``row_id``, if it is loaded."""
        index = self._index
        if index is None:
            index = self._index = {key: row for row, key in enumerate(self._ids)}
        return index.get(row_id)

    # -- changing (each helper is one Qt notification) --------------------------------

    def _reset_rows(self, rows: Iterable[Row]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._ids = [self.row_id(r) for r in self._rows]
        self._index = None
        self.endResetModel()

    def _insert_rows(self, position: int, rows: Sequence[Row]) -> None:
        if not rows:
            return
        self.beginInsertRows(ROOT, position, position + len(rows) - 1)
        self._rows[position:position] = rows
        self._ids[position:position] = [self.row_id(r) for r in rows]
        self._index = None
        self.endInsertRows()

    def _remove_rows(self, first: int, last: int) -> None:
        self.beginRemoveRows(ROOT, first, last)
        del self._rows[first : last + 1]
        del self._ids[first : last + 1]
        self._index = None
        self.endRemoveRows()

    def _move_row(self, row: int, to: int, item: Row) -> None:
        """Move ``row`` so that it ends up at ``to``, holding ``item`` (its new state)."""
        self.beginMoveRows(ROOT, row, row, ROOT, to if to < row else to + 1)
        del self._rows[row]
        del self._ids[row]
        self._rows.insert(to, item)
        self._ids.insert(to, self.row_id(item))
        self._index = None
        self.endMoveRows()

    def _set_row(self, row: int, item: Row) -> None:
        """Put ``item`` (the same id) in ``row``; say what changed with ``_emit_changed``."""
        self._rows[row] = item

    def _emit_changed(self, row: int, roles: Iterable[int]) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index, sorted(roles))
