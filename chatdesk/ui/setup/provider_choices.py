"""The providers the settings offer, and how a provider plus a model name become a
CrewAI model string (``ollama/llama3.2``).

Why a table: people think "Ollama, llama3.2", CrewAI wants ``ollama/llama3.2`` and,
for LM Studio or llama.cpp, ``openai/<name>`` plus a base URL. The table keeps that
mapping (and which providers need an API key) in one place, with no Qt in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ProviderChoice:
    """One entry of the provider picker.

    Attributes:
        id: what settings store (also the keyring account of its API key).
        label: what the picker shows.
        prefix: the CrewAI/LiteLLM provider prefix of its model strings.
        default_base_url: the usual endpoint, shown as the base URL's placeholder.
        needs_key: whether it wants an API key.
        needs_base_url: whether a base URL must be given.
        examples: model names the picker suggests.
        local_kind: the :class:`~chatdesk.runs.providers.LocalServer` kind it matches.
    """

    id: str
    label: str
    prefix: str
    default_base_url: str = ""
    needs_key: bool = True
    needs_base_url: bool = False
    examples: tuple[str, ...] = ()
    local_kind: str = ""

    def model_string(self, name: str) -> str:
        """``name`` as a CrewAI model string (already prefixed names are kept)."""
        name = name.strip()
        if not name or name.startswith(f"{self.prefix}/"):
            return name
        return f"{self.prefix}/{name}"

    def model_name(self, model: str) -> str:
        """The part of a model string a person types (the inverse of ``model_string``)."""
        model = model.strip()
        return model[len(self.prefix) + 1 :] if model.startswith(f"{self.prefix}/") else model


PROVIDERS: tuple[ProviderChoice, ...] = (
    ProviderChoice(
        "openai", "OpenAI", "openai", examples=("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")
    ),
    ProviderChoice(
        "anthropic",
        "Anthropic",
        "anthropic",
        examples=("claude-3-5-haiku-latest", "claude-3-5-sonnet-latest"),
    ),
    ProviderChoice("gemini", "Google Gemini", "gemini", examples=("gemini-2.0-flash",)),
    ProviderChoice("openrouter", "OpenRouter", "openrouter", examples=("openai/gpt-4o-mini",)),
    ProviderChoice(
        "ollama",
        "Ollama (on this computer)",
        "ollama",
        "http://127.0.0.1:11434/v1",
        needs_key=False,
        examples=("llama3.2",),
        local_kind="ollama",
    ),
    ProviderChoice(
        "lmstudio",
        "LM Studio (on this computer)",
        "openai",
        "http://127.0.0.1:1234/v1",
        needs_key=False,
        local_kind="lmstudio",
    ),
    ProviderChoice(
        "llamacpp",
        "llama.cpp server (on this computer)",
        "openai",
        "http://127.0.0.1:8080/v1",
        needs_key=False,
        local_kind="llamacpp",
    ),
    ProviderChoice(
        "openai-compatible",
        "Other OpenAI-compatible server",
        "openai",
        needs_base_url=True,
    ),
)
DEFAULT_PROVIDER = PROVIDERS[0]


def provider_choice(provider_id: str) -> ProviderChoice | None:
    return next((p for p in PROVIDERS if p.id == provider_id), None)


def guess_provider(model: str) -> ProviderChoice:
    """The picker entry for a model string without a stored provider (by its prefix)."""
    prefix = model.split("/", 1)[0] if "/" in model else ""
    return next((p for p in PROVIDERS if p.id == prefix), DEFAULT_PROVIDER)


def local_provider(kind: str) -> ProviderChoice | None:
    """The picker entry for a local server kind (``ollama``, ``lmstudio``, ...)."""
    return next((p for p in PROVIDERS if p.local_kind == kind), None)


def base_url_problem(url: str, *, required: bool = False) -> str | None:
    """Why ``url`` is not usable as a base URL, or None when it is (or may stay empty)."""
    url = url.strip()
    if not url:
        return "This provider needs a base URL." if required else None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "The base URL is not a valid address."
    if parts.scheme not in ("http", "https"):
        return "The base URL must start with http:// or https://."
    if not parts.hostname:
        return "The base URL needs a host name, e.g. http://127.0.0.1:11434."
    if any(ch.isspace() for ch in url):
        return "The base URL cannot contain spaces."
    return None
