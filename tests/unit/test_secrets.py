"""API keys live in the keyring or the environment, and nowhere else."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from chatdesk.secrets import (
    NO_BACKEND_MESSAGE,
    SecretStoreUnavailableError,
    get_api_key,
    keyring_status,
    set_api_key,
)


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps passwords in memory (for tests)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_keys_round_trip_through_the_keyring(memory_keyring: MemoryKeyring) -> None:
    assert keyring_status().available
    set_api_key("openai", "sk-secret-123")
    assert get_api_key("OpenAI") == "sk-secret-123"
    assert memory_keyring.passwords == {("chatdesk", "api-key:openai"): "sk-secret-123"}
    set_api_key("openai", None)
    assert get_api_key("openai") is None
    set_api_key("openai", None)  # removing twice is fine


def test_the_environment_variable_wins(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_api_key("openai", "from-keyring")
    monkeypatch.setenv("CHATDESK_LLM_API_KEY", "from-env")
    assert get_api_key("openai") == "from-env"


def test_without_a_keyring_saving_fails_clearly_and_the_env_still_works(
    no_keyring: None, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    status = keyring_status()
    assert not status.available and status.message == NO_BACKEND_MESSAGE
    with pytest.raises(SecretStoreUnavailableError, match="CHATDESK_LLM_API_KEY"):
        set_api_key("openai", "sk-nowhere")
    assert get_api_key("openai") is None
    monkeypatch.setenv("CHATDESK_LLM_API_KEY", "sk-env")
    assert get_api_key("openai") == "sk-env"
