"""The model settings a chat's next run uses: the chat's own over its crew's defaults.

Why here (GUI side) and not in the worker: the run request must carry the history
already trimmed to the right budget, and the window's context meter must show the
same budget the run will use; both call :func:`effective_params`. The crew's defaults
are the ``llm:`` of its ``crew.yaml`` (``chatdesk.engine.crews``, YAML only, no CrewAI);
a chat's own value wins over its crew's, which wins over the provider's default; for
max output tokens, the global Settings value is the last fallback before the provider's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from chatdesk import config
from chatdesk.engine.crews import CatalogCache, CrewDefinitionError, crew_search_path
from chatdesk.engine.protocol import ModelConfig
from chatdesk.model_params import (
    CHARS_PER_TOKEN,
    DEFAULT_CONTEXT_TOKENS,
    ModelParams,
    history_budget_chars,
)
from chatdesk.services import Services

_CATALOG = CatalogCache()

__all__ = [
    "CHARS_PER_TOKEN",
    "context_budget_tokens",
    "crew_defaults",
    "effective_params",
    "history_budget_chars",
    "with_params",
]


def crew_defaults(crew: str, data_dir: Path | None = None) -> ModelParams:
    """The ``llm:`` defaults of crew ``crew`` (none for an unknown or broken crew: its
    run fails with the crew's own error, told by the worker)."""
    directory = data_dir if data_dir is not None else config.data_dir(create=False)
    try:
        return _CATALOG.get(crew_search_path(directory)).get(crew).model_defaults
    except (CrewDefinitionError, OSError):
        return ModelParams()


def effective_params(
    services: Services, user_id: int, thread_id: int, crew: str | None = None
) -> ModelParams:
    """The chat's own settings over its crew's defaults (``crew``: the thread's unless
    given, e.g. the crew of the execution about to run)."""
    own = services.chat_model_settings.get(user_id, thread_id)
    if crew is None:
        crew = services.threads.get(user_id, thread_id).crew
    return own.over(crew_defaults(crew))


def context_budget_tokens(services: Services, user_id: int, thread_id: int) -> int:
    """How many tokens of history the chat's next run sends at most (the chat's value,
    else its crew's, else :data:`DEFAULT_CONTEXT_TOKENS`): the context meter's scale.

    The history is trimmed by characters, ``CHARS_PER_TOKEN`` per token."""
    params = effective_params(services, user_id, thread_id)
    return params.context_tokens or DEFAULT_CONTEXT_TOKENS


def with_params(model: ModelConfig, params: ModelParams) -> ModelConfig:
    """``model`` carrying ``params``: each set value replaces the config's (so the
    chat's max tokens win over the one in Settings), unset ones leave it as it is."""
    values = {
        name: getattr(params, name)
        for name in ("temperature", "top_p", "max_tokens", "reasoning_effort")
        if getattr(params, name) is not None
    }
    return replace(model, **values) if values else model
