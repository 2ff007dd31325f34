"""Build the CrewAI objects of one run: its LLM, agents, tasks and crew (worker only).

Why a builder per run: CrewAI objects carry state (token counters, executors,
retry counts), so concurrent runs must never share a Crew, Agent or LLM. Everything
here is built fresh for each run, with the settings that keep a failing run short:
a request timeout on the LLM, bounded HTTP retries (none a run cannot wait for), no
task-level retries (``max_retry_limit=0``), no memory, no planning, no delegation.
"""

from __future__ import annotations

import datetime as _dt
import urllib.request
from collections.abc import Callable
from typing import Any

import httpx
from crewai import LLM, Agent, Crew, Process, Task
from crewai.llms.hooks.base import BaseInterceptor

from chatdesk.engine.cancel_signal import CancelSignal
from chatdesk.engine.crewai_tuning import without_replay_log
from chatdesk.engine.crews import AgentSpec, CrewSpec
from chatdesk.engine.document_block import with_documents
from chatdesk.engine.history import format_history
from chatdesk.engine.http_guard import RunGuard
from chatdesk.engine.protocol import ModelConfig, RunRequest
from chatdesk.engine.scripted_llm import ScriptedLLM
from chatdesk.model_params import provider_values

DEFAULT_SYSTEM_PROMPT = "You are a helpful, knowledgeable assistant."
# An agent loops (think → act → observe) at most this often unless its YAML says otherwise.
DEFAULT_MAX_ITER = 5


class ModelConfigError(ValueError):
    """The model settings cannot make an LLM (unknown provider, missing package, ...)."""


class RunInterceptor(RunGuard, BaseInterceptor[httpx.Request, httpx.Response]):
    """:class:`~chatdesk.engine.http_guard.RunGuard` as CrewAI's LLM takes it."""


def _proxies_configured() -> bool:
    """An interceptor gives the SDK its own transport, which ignores proxy variables."""
    return bool(urllib.request.getproxies())


def build_llm(model: ModelConfig, cancel_event: CancelSignal, deadline: float | None = None) -> Any:
    """The LLM for one run: scripted, or a real provider with timeout and bounded retries.

    ``deadline`` (``time.monotonic`` clock) is when the run's budget ends: a server's
    Retry-After beyond it is not waited for (see :mod:`chatdesk.engine.http_guard`).
    """
    if model.is_scripted:
        try:
            return ScriptedLLM.from_config(
                model.model,
                list(model.script or ()),
                cancel_event=cancel_event,
                temperature=model.temperature,
                max_tokens=model.max_tokens,
            )
        except ValueError as exc:
            raise ModelConfigError(f"Invalid script for the scripted model: {exc}") from exc
    kwargs: dict[str, Any] = {
        "model": model.model,
        "timeout": model.timeout_s,
        "stream": True,
    }
    if model.base_url:
        kwargs["base_url"] = model.base_url
    if model.api_key:
        kwargs["api_key"] = model.api_key
    # The chat's settings, only those this model's provider takes (see model_params).
    kwargs.update(provider_values(model.model, model.params))
    if model.base_url and "api_key" not in kwargs and model.model.startswith("openai/"):
        kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers want *some* key
    llm_class = _provider_class(kwargs)
    probe = None
    if llm_class is None:  # unknown route: build one to see which class it is
        probe = _construct(model, kwargs)
        llm_class = type(probe)
    fields = getattr(llm_class, "model_fields", {})
    extra: dict[str, Any] = {}
    if "max_retries" in fields:
        extra["max_retries"] = model.max_retries
    if "interceptor" in fields and _is_openai_based(llm_class) and not _proxies_configured():
        extra["interceptor"] = RunInterceptor(cancel_event, deadline)
    if probe is not None and not extra:
        return probe
    return _construct(model, {**kwargs, **extra})


def _construct(model: ModelConfig, kwargs: dict[str, Any]) -> Any:
    try:
        return LLM(**kwargs)
    except Exception as exc:
        raise ModelConfigError(f"Cannot use the model {model.model!r}: {exc}") from exc


def _provider_class(kwargs: dict[str, Any]) -> type | None:
    """The class ``LLM(**kwargs)`` builds, found without building it.

    Building one costs a few milliseconds even with the TLS context shared (see
    :mod:`chatdesk.engine.tls`), paid before the first token, so it is done once.
    """
    try:
        route = LLM._resolve_route(kwargs["model"], dict(kwargs))
    except Exception:
        return None
    native = getattr(route, "native_class", None)
    return native if isinstance(native, type) else None


def _is_openai_based(llm_class: type) -> bool:
    try:
        from crewai.llms.providers.openai.completion import OpenAICompletion
    except ImportError:
        return False
    return issubclass(llm_class, OpenAICompletion)


def crew_inputs(request: RunRequest, note: str = "") -> dict[str, str]:
    """The values for the placeholders of :data:`chatdesk.engine.crews.CREW_INPUTS`;
    ``note`` (what the model is told of images it cannot see) follows the message."""
    return {
        "message": with_documents(
            f"{request.message}\n\n{note}" if note else request.message, request.documents
        ),
        "history": format_history(request.history, request.history_budget_chars),
        "system_prompt": request.system_prompt.strip() or DEFAULT_SYSTEM_PROMPT,
        "date": _dt.date.today().isoformat(),
    }


def build_crew(
    spec: CrewSpec, llm: Any, tools_for: Callable[[AgentSpec], list[Any]] | None = None
) -> Crew:
    """A fresh sequential crew for ``spec`` whose agents all use ``llm``; ``tools_for``
    gives each agent its tools (none without it)."""
    agents: dict[str, Agent] = {}
    for agent_spec in spec.agents:
        agents[agent_spec.key] = Agent(
            tools=tools_for(agent_spec) if tools_for is not None else [],
            role=agent_spec.role,
            goal=agent_spec.goal,
            backstory=agent_spec.backstory,
            llm=llm,
            max_iter=agent_spec.max_iter or DEFAULT_MAX_ITER,
            max_retry_limit=0,
            allow_delegation=False,
            verbose=False,
        )
    tasks = [
        Task(
            name=task_spec.key,
            description=task_spec.description,
            expected_output=task_spec.expected_output,
            agent=agents[task_spec.agent],
        )
        for task_spec in spec.tasks
    ]
    crew = Crew(
        name=spec.name,
        agents=list(agents.values()),
        tasks=tasks,
        process=Process.sequential,
        verbose=False,
        memory=False,
        cache=False,
        planning=False,
        tracing=False,
    )
    without_replay_log(crew)
    return crew
