"""Translate CrewAI events into protocol ``step`` events (worker only).

Why a table: the execution log wants one small, JSON-safe record per CrewAI event
of interest, whatever its class; each entry says which :class:`StepName` it becomes
and which few fields are worth keeping (texts truncated, no prompts or API keys).
CrewAI looks handlers up by exact class, so every class is listed explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from crewai.events import (
    AgentExecutionCompletedEvent,
    AgentExecutionErrorEvent,
    AgentExecutionStartedEvent,
    CrewKickoffCompletedEvent,
    CrewKickoffFailedEvent,
    CrewKickoffStartedEvent,
    LLMCallCompletedEvent,
    LLMCallFailedEvent,
    LLMCallStartedEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    TaskStartedEvent,
    ToolExecutionErrorEvent,
    ToolSelectionErrorEvent,
    ToolUsageErrorEvent,
    ToolUsageStartedEvent,
    ToolValidateInputErrorEvent,
)

from chatdesk.engine.protocol import StepName

TEXT_LIMIT = 500

Detail = Callable[[Any], dict[str, Any]]


def short(value: Any, limit: int = TEXT_LIMIT) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _none(_: Any) -> dict[str, Any]:
    return {}


def _error(event: Any) -> dict[str, Any]:
    return {"error": short(getattr(event, "error", ""))}


def _crew_started(event: Any) -> dict[str, Any]:
    return {"crew_name": event.crew_name, "inputs": sorted((event.inputs or {}).keys())}


def _crew_completed(event: Any) -> dict[str, Any]:
    output = getattr(event.output, "raw", event.output)
    return {"crew_name": event.crew_name, "output": short(output)}


def _task_completed(event: Any) -> dict[str, Any]:
    output = getattr(event.output, "raw", event.output)
    return {"output": short(output)}


def _agent_started(event: Any) -> dict[str, Any]:
    tools = [getattr(t, "name", str(t)) for t in (event.tools or [])]
    return {"tools": tools}


def _agent_completed(event: Any) -> dict[str, Any]:
    return {"output": short(event.output)}


def _tool(event: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "tool_name": event.tool_name,
        "tool_args": short(event.tool_args, 300),
    }
    if hasattr(event, "output"):
        detail["output"] = short(event.output)
        detail["from_cache"] = bool(getattr(event, "from_cache", False))
    if hasattr(event, "error"):
        detail["error"] = short(event.error)
    return detail


def _llm_started(event: Any) -> dict[str, Any]:
    messages = event.messages
    count = len(messages) if isinstance(messages, list) else (1 if messages else 0)
    return {"call_id": event.call_id, "model": event.model, "messages": count}


def _llm_completed(event: Any) -> dict[str, Any]:
    return {
        "call_id": event.call_id,
        "model": event.model,
        "response": short(event.response),
        "finish_reason": event.finish_reason,
    }


def _llm_failed(event: Any) -> dict[str, Any]:
    return {"call_id": event.call_id, "model": event.model, "error": short(event.error)}


STEP_TABLE: dict[type[Any], tuple[StepName, Detail]] = {
    CrewKickoffStartedEvent: (StepName.CREW_STARTED, _crew_started),
    CrewKickoffCompletedEvent: (StepName.CREW_COMPLETED, _crew_completed),
    CrewKickoffFailedEvent: (StepName.CREW_FAILED, _error),
    TaskStartedEvent: (StepName.TASK_STARTED, _none),
    TaskCompletedEvent: (StepName.TASK_COMPLETED, _task_completed),
    TaskFailedEvent: (StepName.TASK_FAILED, _error),
    AgentExecutionStartedEvent: (StepName.AGENT_STARTED, _agent_started),
    AgentExecutionCompletedEvent: (StepName.AGENT_COMPLETED, _agent_completed),
    AgentExecutionErrorEvent: (StepName.AGENT_ERROR, _error),
    ToolUsageStartedEvent: (StepName.TOOL_STARTED, _tool),
    # A finished call is recorded by chatdesk itself (``tool_call``: arguments, whole
    # result, duration, approval; see chatdesk.engine.run_tools), not twice.
    ToolUsageErrorEvent: (StepName.TOOL_ERROR, _tool),
    ToolValidateInputErrorEvent: (StepName.TOOL_ERROR, _tool),
    ToolSelectionErrorEvent: (StepName.TOOL_ERROR, _tool),
    ToolExecutionErrorEvent: (StepName.TOOL_ERROR, _tool),
    LLMCallStartedEvent: (StepName.LLM_STARTED, _llm_started),
    LLMCallCompletedEvent: (StepName.LLM_COMPLETED, _llm_completed),
    LLMCallFailedEvent: (StepName.LLM_FAILED, _llm_failed),
}


def agent_role(event: Any) -> str | None:
    """The agent behind an event (TaskStartedEvent leaves ``agent_role`` empty)."""
    role = getattr(event, "agent_role", None)
    if not role:
        agent = getattr(event, "agent", None) or getattr(
            getattr(event, "task", None), "agent", None
        )
        role = getattr(agent, "role", None)
    return str(role).strip() if role else None


def task_name(event: Any) -> str | None:
    name = getattr(event, "task_name", None)
    if not name:
        task = getattr(event, "task", None)
        name = getattr(task, "name", None) or getattr(task, "description", None)
    return short(str(name).strip(), 200) if name else None


def tokens(event: Any) -> dict[str, int] | None:
    """Token counts an event carries, if any (LLM usage, crew totals)."""
    if isinstance(event, LLMCallCompletedEvent) and isinstance(event.usage, dict):
        found = {
            k: int(v)
            for k, v in event.usage.items()
            if k in ("prompt_tokens", "completion_tokens", "total_tokens")
            and isinstance(v, int | float)
        }
        return found or None
    if isinstance(event, CrewKickoffCompletedEvent) and event.total_tokens:
        return {"total_tokens": int(event.total_tokens)}
    return None


def timestamp(event: Any) -> str:
    value = getattr(event, "timestamp", None)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    return datetime.now(UTC).isoformat()
