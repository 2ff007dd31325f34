"""API keys live in the keyring or the environment, and nowhere else."""

from __future__ import annotations

import pytest

from chatdesk.secrets import (
    NO_BACKEND_MESSAGE,
    SecretStoreUnavailableError,
    get_api_key,
    keyring_status,
    set_api_key,
)
from tests.support.keyrings import MemoryKeyring, memory_keyring, no_keyring

__all__ = ["memory_keyring", "no_keyring"]  # fixtures shared with the UI tests


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
