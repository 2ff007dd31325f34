"""Run crews concurrently inside the worker, each isolated, cancellable and time-boxed.

Why threads: a crew's ``kickoff`` is blocking and CrewAI has no stop API, so each run
gets its own daemon thread, its own freshly built Crew/Agents/LLM, and CrewAI's
execution uuid set to the run id (``set_execution_uuid``), which CrewAI copies into
every context its events are handled in. One set of process-wide handlers then
routes every event to its run.

Stopping a run (cancel, or its deadline) is immediate for the GUI: the terminal event
is written at once and the :class:`~chatdesk.engine.outbox.Outbox` drops anything the
run emits afterwards. The run itself stops consuming the model as soon as it can: its
HTTP stream fails at the next chunk (``http_guard.RunInterceptor``), the scripted model
wakes from its pauses, and a ``before_llm_call`` hook refuses any further model call
with ``HookAborted`` (which CrewAI does not retry). The thread that cancels also shuts
the connection being read, so the server sees the run end within moments even when
its stream is stalled (see :mod:`chatdesk.engine.cancel_signal`).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from crewai.events import (
    LLMCallCompletedEvent,
    LLMCallStartedEvent,
    LLMStreamChunkEvent,
    crewai_event_bus,
)
from crewai.events.base_events import reset_emission_counter
from crewai.execution import clear_execution_uuid, get_execution_uuid, set_execution_uuid
from crewai.hooks.dispatch import HookAborted, InterceptionPoint, register

from chatdesk.engine import bridge
from chatdesk.engine.answer_filter import AnswerStreamFilter
from chatdesk.engine.cancel_signal import CancelSignal
from chatdesk.engine.crew_builder import ModelConfigError, build_crew, build_llm, crew_inputs
from chatdesk.engine.crews import CatalogCache, CrewDefinitionError, crew_search_path
from chatdesk.engine.errors import Failure, deadline_failure, describe_failure
from chatdesk.engine.outbox import Outbox
from chatdesk.engine.protocol import (
    ApprovalReply,
    CancelledEvent,
    ChunkEvent,
    CompletedEvent,
    ErrorKind,
    FailedEvent,
    ResetEvent,
    RunRequest,
    StatusEvent,
    StepEvent,
    StepName,
    TitleEvent,
    TitleRequest,
    ToolsEvent,
)
from chatdesk.engine.run_images import ImageError, PreparedImages
from chatdesk.engine.run_tools import RunTools
from chatdesk.engine.titles import clean_title, title_messages, title_model
from chatdesk.engine.tool_servers import ServerPool
from chatdesk.redact import StreamRedactor, redact

log = logging.getLogger("chatdesk.engine.runner")

# How long to wait for CrewAI's handler pool to deliver a run's last steps before
# its terminal event is written.
FLUSH_TIMEOUT_S = 2.0
# How long the first chunk of an LLM call may wait for that call's 'started' step
# (normally a millisecond; on a starved machine the pool can lag far behind, and the
# trace should still read in the order things happened).
CHUNK_FLUSH_TIMEOUT_S = 1.5


def _disable_crewai_rate_limit_retries() -> None:
    """Skip CrewAI's own 429 retry loop in this context (up to 3 tries, sleeping
    whatever Retry-After says). The HTTP client's bounded retries still apply.
    Uses a private contextvar of ``crewai.llms.retry``; if it moved, nothing breaks,
    runs are just bounded by their deadline instead."""
    try:
        from crewai.llms import retry

        retry._active_llm_rate_limit_retry.set(True)
    except (ImportError, AttributeError):  # pragma: no cover - depends on crewai
        log.warning("cannot disable CrewAI's rate-limit retries; relying on the deadline")


class RunState:
    """One run: its request, cancel flag and the live-text bookkeeping."""

    def __init__(self, request: RunRequest, outbox: Outbox):
        self.request = request
        self.run_id = request.run_id
        self.outbox = outbox
        self.cancel_event = CancelSignal()
        self.final_task_id: str | None = None
        self._lock = threading.Lock()
        self._seen_calls: set[str] = set()
        self._stepped_calls: set[str] = set()  # LLM calls whose 'llm_started' was written
        self._held_ends: dict[str, Any] = {}  # 'llm_completed' that came before its start
        self._last_text_emission = 0
        self._filters: dict[str, AnswerStreamFilter] = {}
        self._redactors: dict[str, StreamRedactor] = {}  # a key may straddle two chunks
        self.deadline_timer: threading.Timer | None = None
        self.deadline_at = time.monotonic() + request.deadline_s
        self.tools: RunTools | None = None
        self.images: PreparedImages | None = None  # the question's images, once read
        self.deadline_credit_s = 0.0  # approval waits already added to the deadline

    @property
    def finished(self) -> bool:
        return self.outbox.is_closed(self.run_id)

    # -- live text ---------------------------------------------------------
    # CrewAI handles LLMCallStartedEvent on a thread pool but stream chunks on the
    # calling thread, so a call's 'started' can arrive after its first chunks. The
    # chunk handler first waits (briefly) for the pool to catch up; should that time
    # out, a reset is still written once per LLM call, by whichever arrives first, and
    # a late 'started' older than text already shown is ignored (emission order).

    def is_new_call(self, call_id: str) -> bool:
        with self._lock:
            return call_id not in self._seen_calls

    def on_llm_started(self, call_id: str, emission_seq: int | None) -> None:
        with self._lock:
            if call_id in self._seen_calls:
                return
            self._seen_calls.add(call_id)
            if emission_seq is not None and emission_seq < self._last_text_emission:
                return
            self._emit_reset()

    def on_chunk(
        self, call_id: str, task_id: str | None, chunk: str, emission_seq: int | None
    ) -> None:
        with self._lock:
            if call_id not in self._seen_calls:
                self._seen_calls.add(call_id)
                self._emit_reset()
            if emission_seq is not None:
                self._last_text_emission = max(self._last_text_emission, emission_seq)
            if self.final_task_id is not None and task_id != self.final_task_id:
                return  # only the last task's text is the visible answer
            text = self._filters.setdefault(call_id, AnswerStreamFilter()).feed(chunk)
            text = self._redactors.setdefault(call_id, StreamRedactor()).feed(text)
            if text:
                self.outbox.run_event(
                    self.run_id, lambda seq: ChunkEvent(run_id=self.run_id, seq=seq, text=text)
                )

    def _emit_reset(self) -> None:
        self.outbox.run_event(self.run_id, lambda seq: ResetEvent(run_id=self.run_id, seq=seq))

    # -- outcome -----------------------------------------------------------

    def step(self, event: Any) -> None:
        """Write a CrewAI event as a step of the run's record.

        CrewAI hands these to a thread pool, so on a busy machine an LLM call's end can
        arrive before its start: the end then waits for the start, and the Run details
        keep the order things happened in. Ends still waiting when the crew ends go
        first.
        """
        call = getattr(event, "call_id", None)
        if isinstance(event, LLMCallCompletedEvent) and isinstance(call, str):
            with self._lock:
                if call not in self._stepped_calls:
                    self._held_ends[call] = event
                    return
        elif type(event) in bridge.STEP_TABLE and (
            bridge.STEP_TABLE[type(event)][0] is StepName.CREW_COMPLETED
        ):
            with self._lock:
                held, self._held_ends = list(self._held_ends.values()), {}
            for end in held:
                self._write_step(end)
        self._write_step(event)
        if isinstance(event, LLMCallStartedEvent) and isinstance(call, str):
            with self._lock:
                self._stepped_calls.add(call)
                end = self._held_ends.pop(call, None)
            if end is not None:
                self._write_step(end)

    def _write_step(self, event: Any) -> None:
        entry = bridge.STEP_TABLE.get(type(event))
        if entry is None:
            return
        name, detail_of = entry
        try:
            detail = detail_of(event)
        except Exception as exc:  # a CrewAI field changed shape: keep the step anyway
            detail = {"detail_error": bridge.short(repr(exc), 200)}
        role, task, tokens = bridge.agent_role(event), bridge.task_name(event), bridge.tokens(event)
        stamp, emission = bridge.timestamp(event), getattr(event, "emission_sequence", None)
        self.outbox.run_event(
            self.run_id,
            lambda seq: StepEvent(
                run_id=self.run_id,
                seq=seq,
                event=name.value,
                timestamp=stamp,
                agent_role=role,
                task_name=task,
                tokens=tokens,
                detail=detail,
                emission_seq=emission,
            ),
        )

    def images_step(self, images: PreparedImages) -> None:
        """Record what the model gets of the question's images (Run details)."""
        stamp = _dt.datetime.now(_dt.UTC).isoformat()
        detail = images.step_detail()
        self.outbox.run_event(
            self.run_id,
            lambda seq: StepEvent(
                run_id=self.run_id,
                seq=seq,
                event=StepName.ATTACHMENTS_SENT.value,
                timestamp=stamp,
                detail=detail,
            ),
        )

    def fail(self, failure: Failure) -> bool:
        return self.outbox.run_event(
            self.run_id,
            lambda seq: FailedEvent(
                run_id=self.run_id,
                seq=seq,
                error=failure.message,
                kind=failure.kind.value,
                detail=failure.detail,
            ),
        )

    def stop(self) -> None:
        """Make the run stop using the model (idempotent)."""
        self.cancel_event.set()


class Engine:
    """Starts, cancels and tracks runs; owns the CrewAI event handlers."""

    def __init__(
        self,
        outbox: Outbox,
        data_dir: Any | None = None,
        server_env: Mapping[str, str] | None = None,
    ):
        self.outbox = outbox
        self.data_dir = data_dir
        self._runs: dict[str, RunState] = {}
        self._lock = threading.Lock()
        self._crews = CatalogCache()
        # MCP servers start with the person's environment, not the worker's (whose
        # HOME points into CrewAI's storage); see chatdesk.engine.mcp_session.
        self._server_env = dict(server_env) if server_env is not None else None
        self._pool: ServerPool | None = None
        self._install_handlers()

    @property
    def pool(self) -> ServerPool:
        """The MCP servers of this worker, started when a run first needs one."""
        with self._lock:
            if self._pool is None:
                import os

                self._pool = ServerPool(self._server_env or dict(os.environ))
            return self._pool

    def close(self) -> None:
        """Stop every run and every MCP server this worker started."""
        self.cancel_all()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # -- requests ----------------------------------------------------------

    def start(self, request: RunRequest) -> None:
        with self._lock:
            if request.run_id in self._runs or self.outbox.is_closed(request.run_id):
                log.warning("ignoring a second run request for %s", request.run_id)
                return
            state = RunState(request, self.outbox)
            self._runs[request.run_id] = state
        self.outbox.run_event(
            request.run_id,
            lambda seq: StatusEvent(
                run_id=request.run_id, seq=seq, crew=request.crew, model=request.model.model
            ),
        )
        timer = threading.Timer(request.deadline_s, self._deadline, args=(state,))
        timer.daemon = True
        state.deadline_timer = timer
        timer.start()
        thread = threading.Thread(
            target=self._run, args=(state,), name=f"run-{request.run_id[:12]}", daemon=True
        )
        thread.start()

    def cancel(self, run_id: str) -> None:
        with self._lock:
            state = self._runs.get(run_id)
        if state is not None:
            state.stop()
        # Written even for a run we do not know (it may have raced its own end):
        # the outbox drops it if the run already ended.
        self.outbox.run_event(run_id, lambda seq: CancelledEvent(run_id=run_id, seq=seq))

    def title(self, request: TitleRequest) -> None:
        """Ask the model for a chat's title on a thread of its own (``engine/titles.py``);
        the answer, or why there is none, goes out as a ``TitleEvent``."""

        def ask() -> None:
            model = title_model(request.model)
            try:
                llm = build_llm(model, CancelSignal(), time.monotonic() + model.timeout_s)
                answer = llm.call(title_messages(request.question, request.answer))
                title = clean_title(redact(str(answer)))  # a provider may echo the key
                event = TitleEvent(request_id=request.request_id, title=title)
            except Exception as exc:  # a title is a nicety: say why there is none, no more
                failure = describe_failure(exc, model)
                log.info("title %s failed: %s", request.request_id, failure.detail)
                event = TitleEvent(request_id=request.request_id, error=redact(failure.message))
            self.outbox.send(event)

        threading.Thread(target=ask, name="chat-title", daemon=True).start()

    def warm(self, servers: tuple[Any, ...]) -> None:
        """Start MCP servers in the background (see WarmToolsRequest)."""
        if not servers:
            return

        def start() -> None:
            try:
                results = self.pool.start_all(list(servers))
            except Exception:
                log.exception("warming tool servers failed")
                return
            listed: dict[str, list[str]] = {}
            errors: dict[str, str] = {}
            for name, result in results.items():
                if isinstance(result, Exception):
                    errors[name] = str(result)
                    log.info("tool server %s did not warm up: %s", name, result)
                else:
                    listed[name] = [tool.name for tool in result]
            self.outbox.send(ToolsEvent(servers=listed, errors=errors))

        threading.Thread(target=start, name="warm-tools", daemon=True).start()

    def answer(self, reply: ApprovalReply) -> None:
        """Pass the person's answer to the run whose tool call waits for it."""
        with self._lock:
            state = self._runs.get(reply.run_id)
        if state is not None and state.tools is not None:
            state.tools.answer(reply.call_id, reply.decision)

    def cancel_all(self) -> None:
        with self._lock:
            run_ids = list(self._runs)
        for run_id in run_ids:
            self.cancel(run_id)

    def active_runs(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    # -- the run thread ----------------------------------------------------

    def _run(self, state: RunState) -> None:
        request = state.request
        token = set_execution_uuid(request.run_id)
        reset_emission_counter()
        _disable_crewai_rate_limit_retries()
        try:
            spec = self._crews.get(crew_search_path(self.data_dir)).get(request.crew)
            llm = build_llm(request.model, state.cancel_event, state.deadline_at)
            images = PreparedImages.prepare(request.images, llm)
            tools = self._run_tools(state, spec)
            crew = build_crew(spec, llm, tools.for_agent if tools is not None else None)
            state.final_task_id = str(crew.tasks[-1].id)
            if state.cancel_event.is_set():
                return
            if request.images.files:
                state.images = images
                state.images_step(images)
            output = crew.kickoff(inputs=crew_inputs(request, images.prompt_note()))
            crewai_event_bus.flush(timeout=FLUSH_TIMEOUT_S)
            usage = getattr(output, "token_usage", None)
            text = str(getattr(output, "raw", output) or "")
            self.outbox.run_event(
                request.run_id,
                lambda seq: CompletedEvent(
                    run_id=request.run_id,
                    seq=seq,
                    text=text,
                    model=request.model.model,
                    prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                    completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                    total_tokens=int(getattr(usage, "total_tokens", 0) or 0),
                ),
            )
        except CrewDefinitionError as exc:
            state.fail(Failure(ErrorKind.CREW_CONFIG, f"The crew cannot run: {exc}", repr(exc)))
        except ModelConfigError as exc:
            state.fail(Failure(ErrorKind.MODEL_CONFIG, str(exc), repr(exc.__cause__ or exc)))
        except ImageError as exc:
            state.fail(exc.failure())
        except BaseException as exc:  # everything a crew can raise ends up on the bubble
            crewai_event_bus.flush(timeout=FLUSH_TIMEOUT_S)
            if not state.finished:
                failure = describe_failure(exc, request.model)
                if state.images is not None:
                    failure = state.images.explain(exc, failure)
                log.info("run %s failed: %s (%s)", request.run_id, failure.kind, failure.detail)
                state.fail(failure)
        finally:
            state.stop()
            if state.deadline_timer is not None:
                state.deadline_timer.cancel()
            with self._lock:
                self._runs.pop(request.run_id, None)
            clear_execution_uuid(token)

    def _run_tools(self, state: RunState, spec: Any) -> RunTools | None:
        """The run's tools, if the chat has servers or the crew names tools."""
        access = state.request.tools
        if not access.servers and all(agent.tools is None for agent in spec.agents):
            return None
        run_id = state.run_id
        state.tools = RunTools(
            run_id,
            access,
            self.pool,
            state.cancel_event,
            lambda make: self.outbox.run_event(run_id, make),
        )
        state.tools.start_servers(spec.agents)
        return state.tools

    def _deadline(self, state: RunState) -> None:
        # Time spent waiting for the person to allow a tool call is not the run's: the
        # deadline moves by it (and never falls while a question is open).
        tools = state.tools
        if tools is not None and (tools.waiting or tools.waited_s > state.deadline_credit_s):
            state.deadline_credit_s = tools.waited_s
            remaining = state.deadline_at + tools.waited_s - time.monotonic()
            timer = threading.Timer(max(remaining, 1.0), self._deadline, args=(state,))
            timer.daemon = True
            state.deadline_timer = timer
            if not state.finished:
                timer.start()
            return
        if state.fail(deadline_failure(state.request.deadline_s)):
            log.info("run %s hit its deadline", state.run_id)
        state.stop()

    # -- CrewAI event handlers -------------------------------------------------

    def current_run(self) -> RunState | None:
        run_id = get_execution_uuid()
        if run_id is None:
            return None
        with self._lock:
            return self._runs.get(run_id)

    def _install_handlers(self) -> None:
        def on_step(source: Any, event: Any) -> None:
            state = self.current_run()
            if state is not None and not state.finished:
                if isinstance(event, LLMCallStartedEvent):
                    state.on_llm_started(event.call_id, event.emission_sequence)
                state.step(event)

        def on_chunk(source: Any, event: Any) -> None:
            state = self.current_run()
            if state is None or state.finished:
                return
            if state.cancel_event.is_set():
                return
            if state.is_new_call(event.call_id):
                # Let the pool write this call's 'llm_started' step (and reset) first.
                crewai_event_bus.flush(timeout=CHUNK_FLUSH_TIMEOUT_S)
            state.on_chunk(event.call_id, event.task_id, event.chunk, event.emission_sequence)

        for event_class in bridge.STEP_TABLE:
            crewai_event_bus.on(event_class)(on_step)
        crewai_event_bus.on(LLMStreamChunkEvent)(on_chunk)

        def refuse_when_stopped(context: Any) -> None:
            state = self.current_run()
            if state is not None and state.cancel_event.is_set():
                raise HookAborted("the run was stopped", source="chatdesk")

        register(InterceptionPoint.PRE_MODEL_CALL, refuse_when_stopped)

        def add_images(context: Any) -> None:
            state = self.current_run()
            if state is not None and state.images is not None:
                state.images.add_to(context.messages, context.llm)

        register(InterceptionPoint.PRE_MODEL_CALL, add_images)

        def gate_tool_call(context: Any) -> None:
            state = self.current_run()
            if state is not None and state.tools is not None:
                state.tools.before_call(context)

        def record_tool_call(context: Any) -> str | None:
            state = self.current_run()
            if state is not None and state.tools is not None:
                return state.tools.after_call(context)
            return None

        register(InterceptionPoint.PRE_TOOL_CALL, gate_tool_call)
        register(InterceptionPoint.POST_TOOL_CALL, record_tool_call)
