"""API keys: in the OS keyring, or in ``CHATDESK_LLM_API_KEY``, never anywhere else.

Peers keep keys in plaintext config files; chatdesk refuses to. When the machine has no
keyring backend (a bare server, a container), saving a key fails with a message that
says so and points at the environment variable, and nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

from chatdesk.redact import register_secret

log = logging.getLogger(__name__)

SERVICE_NAME = "chatdesk"
API_KEY_ENV = "CHATDESK_LLM_API_KEY"
NO_BACKEND_MESSAGE = (
    "This system has no keyring (secret store) chatdesk can use, so API keys cannot be "
    "saved. Set the CHATDESK_LLM_API_KEY environment variable instead."
)


class SecretStoreUnavailableError(RuntimeError):
    """No usable keyring backend."""


@dataclass(frozen=True)
class KeyringStatus:
    available: bool
    backend: str
    message: str


def keyring_status() -> KeyringStatus:
    """Whether keys can be kept in a keyring here, and which backend would keep them."""
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    usable = not isinstance(backend, fail.Keyring | null.Keyring)
    if usable and hasattr(backend, "backends"):  # a chainer: usable only if it chains any
        usable = bool(backend.backends)
    return KeyringStatus(usable, name, "" if usable else NO_BACKEND_MESSAGE)


def _account(provider: str) -> str:
    return f"api-key:{provider.strip().lower() or 'default'}"


def get_api_key(provider: str) -> str | None:
    """The key for ``provider``: the environment variable wins, then the keyring.

    Whatever key is read is registered for redaction at once, so a provider that
    echoes it back cannot get it stored, shown or exported.
    """
    from_env = os.environ.get(API_KEY_ENV)
    if from_env:
        register_secret(from_env)
        return from_env
    return stored_api_key(provider)


def stored_api_key(provider: str) -> str | None:
    """The key the keyring holds for ``provider`` (the environment is not consulted)."""
    return read_secret(_account(provider))


def read_secret(account: str) -> str | None:
    """The secret the keyring holds under ``account`` (registered for redaction), or None.

    A locked or broken keyring must not stop a chat: it reads as no secret, logged.
    """
    if not keyring_status().available:
        return None
    import keyring

    try:
        secret = keyring.get_password(SERVICE_NAME, account)
    except Exception as error:
        log.warning("could not read a secret from the keyring: %s", type(error).__name__)
        return None
    register_secret(secret)
    return secret


def set_api_key(provider: str, key: str | None) -> None:
    """Keep ``key`` for ``provider`` in the keyring (None or empty removes it)."""
    write_secret(_account(provider), key)


def write_secret(account: str, secret: str | None) -> None:
    """Keep ``secret`` under ``account`` in the keyring (None or empty removes it)."""
    status = keyring_status()
    if not status.available:
        raise SecretStoreUnavailableError(status.message)
    import keyring
    from keyring.errors import PasswordDeleteError

    if secret:
        register_secret(secret)
        keyring.set_password(SERVICE_NAME, account, secret)
        return
    with contextlib.suppress(PasswordDeleteError):
        keyring.delete_password(SERVICE_NAME, account)
