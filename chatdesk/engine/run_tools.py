"""The tools of one run: which agent gets which, who approves a call, and the record.

Why one object per run: a run's tool table (the names the model sees mapped back to
server and tool), its approvals "for this chat" and its calls in flight are the run's
own, while CrewAI's tool-call hooks are process-wide. The runner routes each hook call
to the run it belongs to (CrewAI's execution uuid), and this object does the rest:

* before a call (``PRE_TOOL_CALL``): decide. Built-in tools, a server's
  ``autoApprove`` tools and tools the person allowed for this chat run at once; any
  other call emits an :class:`ApprovalEvent` and waits for the person's answer (or
  for the run to stop). A refusal raises ``HookAborted``: the call does not run.
* after it (``POST_TOOL_CALL``): write one ``tool_call`` step (server, tool,
  arguments, result or error, duration, approval) and, for a refused call, tell the
  agent in words that the person refused it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crewai.hooks.dispatch import HookAborted
from crewai.tools import BaseTool
from crewai.tools.tool_failure import ToolFailure, ToolFailureReason
from crewai.utilities.string_utils import sanitize_tool_name
from pydantic import PrivateAttr

from chatdesk.engine.builtin_tools import BUILTIN_SERVER, BUILTIN_TOOLS
from chatdesk.engine.crews import AgentSpec
from chatdesk.engine.protocol import (
    ApprovalEvent,
    RunEvent,
    StepEvent,
    StepName,
    ToolAccess,
    ToolServer,
)
from chatdesk.engine.tool_servers import (
    CallOutcome,
    ServerPool,
    ToolCallCancelled,
    ToolInfo,
    ToolServerError,
)
from chatdesk.vocabulary import ApprovalDecision

log = logging.getLogger("chatdesk.engine.run_tools")

# What the agent gets of one result; the rest would only crowd the model's context
# (and a 1 MB answer would cost a fortune in tokens).
AGENT_RESULT_LIMIT = 100_000
# What the record keeps of one result and of the arguments (the Run details show it).
RECORD_RESULT_LIMIT = 64_000
RECORD_ARGUMENTS_LIMIT = 8_000
DENIED_MESSAGE = (
    "The person refused this call to {tool}. It did not run. Do not call it again for "
    "this request; answer with what you have, or say what you would need."
)
STOPPED_MESSAGE = "The run was stopped before {tool} could run."

Emit = Callable[[Callable[[int], RunEvent]], bool]


class Approval:
    """How a call came to run (stored in the record's ``approval``)."""

    AUTO = "auto"  # built-in, or the server's autoApprove
    ONCE = "once"
    CHAT = "chat"  # allowed for this chat, now or earlier
    DENIED = "denied"
    STOPPED = "stopped"  # the run ended while the call waited


@dataclass(frozen=True)
class ToolRef:
    """A tool as chatdesk knows it: ``server/tool`` (``chatdesk/<name>`` if built in)."""

    server: str
    tool: str

    @property
    def ref(self) -> str:
        return f"{self.server}/{self.tool}"

    @property
    def builtin(self) -> bool:
        return self.server == BUILTIN_SERVER


@dataclass
class _Call:
    ref: ToolRef
    arguments: dict[str, Any]
    started: float
    approval: str
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit:,} more characters not shown]"


class McpTool(BaseTool):
    """One MCP server tool, called through the worker's :class:`ServerPool`."""

    _pool: ServerPool = PrivateAttr()
    _server: ToolServer = PrivateAttr()
    _tool: str = PrivateAttr()
    _cancel: threading.Event = PrivateAttr()

    @classmethod
    def create(
        cls, pool: ServerPool, server: ToolServer, info: ToolInfo, cancel: threading.Event
    ) -> McpTool:
        kwargs: dict[str, Any] = {
            "name": tool_name(server.name, info.name),
            "description": info.description or f"Tool {info.name} of the server {server.name}",
        }
        schema = _args_schema(info)
        if schema is not None:
            kwargs["args_schema"] = schema
        tool = cls(**kwargs)
        tool._pool, tool._server, tool._tool, tool._cancel = pool, server, info.name, cancel
        return tool

    def _run(self, **kwargs: Any) -> Any:
        try:
            outcome: CallOutcome = self._pool.call(self._server, self._tool, kwargs, self._cancel)
        except ToolCallCancelled:
            return ToolFailure(
                message=STOPPED_MESSAGE.format(tool=self._tool),
                reason=ToolFailureReason.EXCEPTION,
            )
        except ToolServerError as exc:
            return ToolFailure(message=str(exc), reason=ToolFailureReason.EXCEPTION)
        text = outcome.text  # capped for the agent by RunTools.after_call, once recorded
        if outcome.is_error:
            return ToolFailure(
                message=text or "the tool reported an error",
                reason=ToolFailureReason.MCP_ERROR,
                details={"server": self._server.name, "tool": self._tool},
            )
        return text


def tool_name(server: str, tool: str) -> str:
    """The name the model sees: server and tool, as CrewAI will sanitise it."""
    return str(sanitize_tool_name(f"{server}_{tool}"))


def _args_schema(info: ToolInfo) -> Any:
    if not info.input_schema:
        return None
    from crewai.utilities.pydantic_schema_utils import create_model_from_schema

    try:
        return create_model_from_schema(
            info.input_schema,
            model_name=f"{sanitize_tool_name(info.name)}_arguments",
            enrich_descriptions=True,
        )
    except Exception as exc:  # an odd schema: offer the tool untyped
        log.info("tool %s: unusable input schema (%s)", info.name, exc)
        return None


class RunTools:
    """Everything about tools for one run."""

    def __init__(
        self,
        run_id: str,
        access: ToolAccess,
        pool: ServerPool,
        cancel: threading.Event,
        emit: Emit,
    ):
        self._run_id = run_id
        self._access = access
        self._pool = pool
        self._cancel = cancel
        self._emit = emit
        self._servers = {server.name: server for server in access.servers}
        self._approved = set(access.approved)
        self._disabled = set(access.disabled)
        self._listed: dict[str, list[ToolInfo] | None] = {}
        self._by_name: dict[str, ToolRef] = {}
        self._calls: dict[int, _Call] = {}
        self._answers: dict[str, str] = {}
        self._lock = threading.Condition()
        self._waited_s = 0.0
        self._waiting_since: float | None = None

    @property
    def waiting(self) -> bool:
        """Whether a call waits for the person now."""
        return self._waiting_since is not None

    @property
    def waited_s(self) -> float:
        """How long this run has waited for the person, the current wait included."""
        since = self._waiting_since
        return self._waited_s + (time.monotonic() - since if since is not None else 0.0)

    # -- building the crew ----------------------------------------------------------

    def start_servers(self, agents: tuple[AgentSpec, ...]) -> None:
        """Start every server the agents will use, all at once (a run with three stdio
        servers waits for the slowest, not for the sum)."""
        wanted: list[ToolServer] = []
        for spec in agents:
            refs = spec.tools if spec.tools is not None else tuple(self._servers)
            for ref in refs:
                name = ref.partition("/")[0]
                config = self._servers.get(name)
                if config is not None and name not in self._disabled and config not in wanted:
                    wanted.append(config)
        if not wanted:
            return
        try:
            results = self._pool.start_all(wanted, self._cancel)
        except ToolCallCancelled:
            return
        for name, result in results.items():
            if isinstance(result, ToolServerError):
                self._listed[name] = None
                self._setup_error(name, str(result), None)
            else:
                self._listed[name] = result

    def for_agent(self, spec: AgentSpec) -> list[BaseTool]:
        """The tools ``spec`` gets: what its ``tools:`` names, or every enabled server's."""
        refs = spec.tools if spec.tools is not None else tuple(self._servers)
        tools: list[BaseTool] = []
        seen: set[str] = set()
        for ref in refs:
            server, _, only = ref.partition("/")
            for tool in self._tools_of(server, only or None, spec.key):
                if tool.name not in seen:
                    seen.add(tool.name)
                    tools.append(tool)
        return tools

    def _tools_of(self, server: str, only: str | None, agent: str) -> list[BaseTool]:
        if server == BUILTIN_SERVER:
            names = [only] if only else list(BUILTIN_TOOLS)
            found = []
            for name in names:
                if name not in BUILTIN_TOOLS:
                    self._setup_error(server, f"chatdesk has no built-in tool {name!r}", agent)
                    continue
                if self._is_disabled(ToolRef(server, name)):
                    continue
                tool = BUILTIN_TOOLS[name]()
                self._by_name[sanitize_tool_name(tool.name)] = ToolRef(server, name)
                found.append(tool)
            return found
        config = self._servers.get(server)
        if config is None:
            if server not in self._disabled:
                self._setup_error(
                    server, f"no enabled MCP server called {server!r} (see mcp.json)", agent
                )
            return []
        if server in self._disabled:
            return []
        infos = self._list(config)
        if infos is None:
            return []
        chosen = [info for info in infos if only is None or info.name == only]
        if only is not None and not chosen:
            self._setup_error(server, f"the server {server!r} has no tool {only!r}", agent)
        tools: list[BaseTool] = []
        for info in chosen:
            ref = ToolRef(server, info.name)
            if self._is_disabled(ref):
                continue
            tool = McpTool.create(self._pool, config, info, self._cancel)
            self._by_name[sanitize_tool_name(tool.name)] = ref
            tools.append(tool)
        return tools

    def _list(self, config: ToolServer) -> list[ToolInfo] | None:
        if config.name not in self._listed:
            try:
                self._listed[config.name] = self._pool.tools(config, self._cancel)
            except ToolCallCancelled:
                self._listed[config.name] = None
            except ToolServerError as exc:
                self._listed[config.name] = None
                self._setup_error(config.name, str(exc), None)
        return self._listed[config.name]

    def _is_disabled(self, ref: ToolRef) -> bool:
        return ref.server in self._disabled or ref.ref in self._disabled

    def _setup_error(self, server: str, error: str, agent: str | None) -> None:
        """A server or tool the crew wanted but cannot have: on the record, run goes on."""
        log.info("run %s: %s", self._run_id, error)
        self._step(
            StepName.TOOL_ERROR,
            {"server": server, "error": error, **({"agent": agent} if agent else {})},
        )

    # -- the hooks -----------------------------------------------------------------

    def before_call(self, context: Any) -> None:
        """Decide whether the call may run; waits for the person when it must ask."""
        name = str(context.tool_name)
        ref = self._by_name.get(name)
        arguments = context.tool_input if isinstance(context.tool_input, dict) else {}
        call = _Call(
            ref=ref or ToolRef("", name), arguments=dict(arguments), started=0.0, approval=""
        )
        with self._lock:
            self._calls[id(context.tool_input)] = call
        if ref is None:
            # Not a tool this run offers: CrewAI answers the agent that it does not
            # exist; the record says so too.
            call.started = time.monotonic()
            return
        call.approval = self._decide(call)
        call.started = time.monotonic()
        if call.approval in (Approval.DENIED, Approval.STOPPED):
            raise HookAborted(f"{call.approval}: {ref.ref}", source="chatdesk")

    def after_call(self, context: Any) -> str | None:
        """Record the call; a refused one reads as refused to the agent."""
        with self._lock:
            call = self._calls.pop(id(context.tool_input), None)
        if call is None:
            return None
        raw = context.raw_tool_result
        result_text = context.tool_result if isinstance(context.tool_result, str) else ""
        error: str | None = None
        replacement: str | None = None
        if not call.ref.server:
            error = f"the model asked for a tool this run does not offer: {call.ref.tool}"
            result_text = ""
        elif call.approval == Approval.DENIED:
            replacement = DENIED_MESSAGE.format(tool=call.ref.tool)
            result_text, error = "", "refused by the person"
        elif call.approval == Approval.STOPPED:
            replacement = STOPPED_MESSAGE.format(tool=call.ref.tool)
            result_text, error = "", "the run was stopped while the call waited"
        elif isinstance(raw, ToolFailure):
            error, result_text = raw.message, ""
        elif isinstance(raw, str):
            result_text = raw
            if raw.startswith("Error executing tool"):
                error, result_text = raw, ""
        elif raw is not None:
            result_text = str(raw)
        if len(result_text) > AGENT_RESULT_LIMIT:
            replacement = cap(result_text, AGENT_RESULT_LIMIT)
        duration_ms = int((time.monotonic() - call.started) * 1000) if call.started else 0
        detail: dict[str, Any] = {
            "call_id": call.call_id,
            "server": call.ref.server,
            "tool": call.ref.tool,
            "tool_name": str(context.tool_name),
            "arguments": cap(_json(call.arguments), RECORD_ARGUMENTS_LIMIT),
            "approval": call.approval,
            "duration_ms": duration_ms,
            "result": cap(result_text, RECORD_RESULT_LIMIT),
            "result_chars": len(result_text),
        }
        if error is not None:
            detail["error"] = cap(error, 2000)
        self._step(
            StepName.TOOL_CALL,
            detail,
            agent_role=_text_of(getattr(context, "agent", None), "role"),
            task_name=_text_of(getattr(context, "task", None), "name"),
        )
        return replacement

    def answer(self, call_id: str, decision: str) -> None:
        """The person's answer to an approval request (from the GUI)."""
        with self._lock:
            self._answers[call_id] = decision
            self._lock.notify_all()

    def _decide(self, call: _Call) -> str:
        ref = call.ref
        if ref.builtin:
            return Approval.AUTO
        config = self._servers.get(ref.server)
        if config is not None and ref.tool in config.auto_approve:
            return Approval.AUTO
        with self._lock:
            if ref.ref in self._approved:
                return Approval.CHAT
        written = self._emit(
            lambda seq: ApprovalEvent(
                run_id=self._run_id,
                seq=seq,
                call_id=call.call_id,
                server=ref.server,
                tool=ref.tool,
                arguments=call.arguments,
            )
        )
        if not written:
            return Approval.STOPPED
        with self._lock:
            self._waiting_since = time.monotonic()
            try:
                while call.call_id not in self._answers:
                    if self._cancel.is_set():
                        return Approval.STOPPED
                    self._lock.wait(0.1)
            finally:
                self._waited_s += time.monotonic() - self._waiting_since
                self._waiting_since = None
            decision = self._answers.pop(call.call_id)
            if decision == ApprovalDecision.CHAT:
                self._approved.add(ref.ref)
                return Approval.CHAT
        return Approval.ONCE if decision == ApprovalDecision.ONCE else Approval.DENIED

    def _step(
        self,
        name: StepName,
        detail: dict[str, Any],
        agent_role: str | None = None,
        task_name: str | None = None,
    ) -> None:
        from datetime import UTC, datetime

        stamp = datetime.now(UTC).isoformat()
        self._emit(
            lambda seq: StepEvent(
                run_id=self._run_id,
                seq=seq,
                event=name.value,
                timestamp=stamp,
                agent_role=agent_role,
                task_name=task_name,
                detail=detail,
            )
        )


def _text_of(thing: Any, attribute: str) -> str | None:
    value = getattr(thing, attribute, None)
    return str(value).strip()[:200] or None if value else None


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)
