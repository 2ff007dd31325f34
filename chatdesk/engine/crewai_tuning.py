"""Skip work CrewAI does on every kickoff that a chat reply never uses (worker only).

Both measured on CrewAI 1.15, per reply, before the first token:

* **The replay log.** Each crew keeps its task outputs in a SQLite file for
  ``crewai replay`` (cleared at kickoff, written after every task, one fsync each):
  ~2 ms before the first token and ~2.5 ms after each task. chatdesk keeps its own
  trace in its own store, and two crews running at once would share and clear that
  one file under each other, so each crew gets :class:`NoReplayLog` instead.
* **The executor's throw-away state.** Each agent executor is a Flow; while pydantic
  builds it, Flow's set-up makes an initial state by deriving a new pydantic class
  (``AgentExecutorState`` plus Flow's ``id``), and the executor then replaces that
  state with a plain ``AgentExecutorState``. The class costs ~6 ms of schema
  building per reply and is never used. Naming one such class once as the
  executor's ``initial_state`` (Flow's public way to give a state class) makes the
  throw-away cheap; the state the executor runs with is unchanged.

Each step checks that CrewAI still has the shape it relies on and otherwise leaves
CrewAI alone: runs then cost a few milliseconds more, nothing else changes.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("chatdesk.engine.crewai_tuning")


class NoReplayLog:
    """Stands in for CrewAI's ``TaskOutputStorageHandler`` on chatdesk's crews."""

    def reset(self) -> None:
        """Nothing is kept, so nothing to clear."""

    def update(self, task_index: int, log: dict[str, Any]) -> None:
        """Task outputs reach chatdesk through events; nothing to store here."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        """As ``update``."""

    def load(self) -> list[dict[str, Any]] | None:
        return None


def without_replay_log(crew: Any) -> None:
    """Give ``crew`` a replay log that stores nothing (see the module docstring)."""
    if hasattr(crew, "_task_output_handler"):
        setattr(crew, "_task_output_handler", NoReplayLog())  # noqa: B010 - private attr


def share_executor_state_class() -> bool:
    """Make every agent executor build its state from one class; True if done."""
    try:
        from crewai.agents.agent_executor import AgentExecutor, AgentExecutorState
        from crewai.flow.runtime import FlowState
    except ImportError:
        log.info("CrewAI's executor moved; its state class is built per run")
        return False
    field = AgentExecutor.model_fields.get("initial_state")
    if field is None:
        return False
    if field.default is not None:  # already shared (or CrewAI now sets one itself)
        return isinstance(field.default, type) and issubclass(field.default, FlowState)

    class ExecutorState(FlowState, AgentExecutorState):
        """``AgentExecutorState`` with Flow's ``id``: what CrewAI derived per executor."""

    field.default = ExecutorState
    AgentExecutor.model_rebuild(force=True)
    return True
