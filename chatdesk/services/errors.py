"""Errors services raise; each message is written for the person using the app."""

from __future__ import annotations


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
