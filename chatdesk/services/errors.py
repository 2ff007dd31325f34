"""Errors services raise; each message is written for the person using the app."""

from __future__ import annotations

import enum


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""


class ValidationError(ServiceError):
    """The input cannot be stored as it is (empty, too long, unknown role...)."""


class NotFoundError(ServiceError):
    """The thread, message or execution does not exist."""


class PermissionDeniedError(ServiceError):
    """The acting user does not own what they tried to read or change."""


class IllegalTransitionError(ServiceError):
    """A status change the lifecycle does not allow (e.g. completed -> pending)."""


class StorageError(ServiceError):
    """The database could not do what was asked: the environment's fault, not the input's.

    ``kind`` (a ``StorageFault``) says which fault, so a caller can retry a busy
    database and give up at once on a full disk; the message says what happened and
    what to do, for the person. Nothing of the failed transaction was kept.
    """

    def __init__(self, kind: StorageFault, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class StorageFault(enum.Enum):
    """What kind of environment fault stopped a database operation."""

    BUSY = "busy"
    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"
    DAMAGED = "damaged"
    UNAVAILABLE = "unavailable"
