"""Drives executions: one asyncio task per run on the (qasync) event loop.

The coordinator picks up every execution the services create, starts it in the worker
process (through a small ``RunTransport``), and turns the worker's events into store
writes and Qt signals:

- status: the services publish every status change on the change bus (the UI's
  signals come from there);
- streamed text: held here, the one copy in the GUI process (``live_text``, which the
  message list reads); its changes are coalesced to one ``reply_text_changed`` signal
  per frame at most, and it is saved to the database about once a second, so a crash
  loses at most a second of text;
- steps: appended to ``execution_logs`` in arrival order, in small batches.

Runs in different threads go on concurrently (``max_concurrent``, default 2); runs in
one thread queue in the order they were asked for. Stop is immediate: the run is ended
as cancelled with the text it had, and anything the worker still sends for it is
ignored. A total deadline bounds every run.

Every ending decided here rather than by the worker (Stop, a deleted thread, shutdown,
the deadline, a reply over ``max_reply_chars``, a failed save, a bug) goes through
``_release``, which also cancels the worker's run: otherwise the worker would go on
reading the provider's stream, for nobody, until its own deadline.

Every run this client holds keeps its lease (``services.leases``): the text saves renew
it, and so does a timer every ``RENEW_EVERY_S`` for runs that save nothing meanwhile. A
run another client took over (this one froze past its lease) is stopped here without
writing anything more: the worker is told to cancel it and the window shows the end
the other client wrote.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from PySide6.QtCore import QObject, Signal
from sqlalchemy.exc import StatementError

from chatdesk.engine.protocol import (
    ApprovalEvent,
    CancelledEvent,
    ChunkEvent,
    CompletedEvent,
    Event,
    FailedEvent,
    ResetEvent,
    RunRequest,
    StatusEvent,
    StepEvent,
    ToolAccess,
)
from chatdesk.runs import run_files, run_settings
from chatdesk.runs.model_choice import ModelResolver
from chatdesk.runs.model_settings import read_model_settings
from chatdesk.runs.run_documents import documents_for_run
from chatdesk.services import Services
from chatdesk.services.errors import StorageError, StorageFault
from chatdesk.services.events import Change, ChangeKind, Entity
from chatdesk.services.executions import LogEntry, Tokens, ToolCallSummary
from chatdesk.services.leases import RENEW_EVERY_S, LeaseLostError
from chatdesk.services.messages import MAX_CONTENT_CHARS
from chatdesk.services.patience import patiently_async
from chatdesk.vocabulary import ApprovalDecision, ExecutionStatus, ToolRule

log = logging.getLogger(__name__)

FRAME_S = 1 / 60
SAVE_EVERY_S = 1.0
LOG_FLUSH_EVERY_S = 0.25
DEFAULT_DEADLINE_S = 300.0
NO_MODEL_ERROR = "No model is set up yet — open Settings (Ctrl+,) to choose one, then Retry."


class RunTransport(Protocol):
    """What the coordinator needs from the worker client."""

    def submit(self, request: RunRequest) -> None: ...

    def cancel(self, run_id: str) -> None: ...

    def answer(self, run_id: str, call_id: str, decision: str) -> None: ...


ToolAccessFor = Callable[[int, int], ToolAccess]
"""The tools a run of (user id, thread id) may use (see ``runs.tool_access``)."""


@dataclass(frozen=True)
class PendingApproval:
    """A tool call of a running reply that waits for the person's answer."""

    execution_id: int
    thread_id: int
    reply_id: int
    call_id: str
    server: str
    tool: str
    arguments: dict[str, object]


@dataclass
class _Run:
    """The live state of one execution while the coordinator holds it."""

    execution_id: int
    user_id: int
    thread_id: int
    run_id: str = ""
    reply_id: int | None = None
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    text: str = ""
    saved_text: str = ""
    last_save: float = 0.0
    pending_logs: list[LogEntry] = field(default_factory=list)
    last_log_flush: float = 0.0
    finished: bool = False
    task: asyncio.Task[None] | None = None
    approval: PendingApproval | None = None
    approval_since: float | None = None  # time.monotonic() the question was asked
    waited_s: float = 0.0  # time spent waiting for the person (not the run's)
    tool_calls: list[ToolCallSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the model could not be given
    spent: tuple[int, int] | None = None  # tokens in and out the model calls reported


class Coordinator(QObject):
    """Runs executions and reports their progress.

    Signals:
        reply_text_changed(int, str): a streaming reply's text changed (message id, text
            so far; ``live_text`` reads it too).
        run_started(int): an execution began running (execution id).
        run_finished(int, str): an execution ended (execution id, final status).
        save_failed(int, str): the end of a run could not be stored (execution id, why);
            its text is only on screen now.
        approval_changed(int): a run's tool call started or stopped waiting for the
            person (thread id); ``pending_approval(thread_id)`` says which.
    """

    reply_text_changed = Signal(int, str)
    run_started = Signal(int)
    run_finished = Signal(int, str)
    save_failed = Signal(int, str)
    approval_changed = Signal(int)

    def __init__(
        self,
        services: Services,
        transport: RunTransport,
        resolve_model: ModelResolver,
        *,
        max_concurrent: int = 2,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_reply_chars: int = MAX_CONTENT_CHARS,
        tool_access: ToolAccessFor | None = None,
        read_settings: run_files.SettingsReader = read_model_settings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._transport = transport
        self._resolve_model = resolve_model
        self._tool_access = tool_access
        self._read_settings = read_settings  # the model settings (its vision choice)
        self._deadline_s = deadline_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self._thread_locks: dict[int, asyncio.Lock] = {}
        self._runs: dict[int, _Run] = {}
        self._by_run_id: dict[str, _Run] = {}
        self._dirty: set[int] = set()
        self._unsaved: dict[int, str] = {}  # replies whose end could not be stored
        self._frame_scheduled = False
        self._last_frame = 0.0
        self._renewing: asyncio.Task[None] | None = None
        self._ask_owner: Callable[[int], object] | None = None
        self.grace_s = 5.0
        """Extra wait past the worker's own deadline before the run is failed here."""
        self.max_reply_chars = max_reply_chars
        """A reply growing past this many characters is cut there and its run stopped."""
        self._unsubscribe = services.bus.subscribe(self)

    # -- public API -------------------------------------------------------------------

    def is_active(self, execution_id: int) -> bool:
        """True while the execution is queued or running here."""
        return execution_id in self._runs

    def active_executions(self) -> list[int]:
        return list(self._runs)

    def live_text(self, message_id: int) -> str | None:
        """The latest streamed text of a reply being written (newer than the database's),
        or of one whose end could not be stored (then only here); None for others."""
        for run in self._runs.values():
            if run.reply_id == message_id:
                return run.text
        return self._unsaved.get(message_id)

    def live_text_for(self, execution_id: int) -> str | None:
        """The streamed text of an execution's reply, while it runs."""
        run = self._runs.get(execution_id)
        return run.text if run is not None else None

    def pending_approval(self, thread_id: int) -> PendingApproval | None:
        """The tool call of this thread's running reply that waits for the person."""
        for run in self._runs.values():
            if run.thread_id == thread_id and run.approval is not None and not run.finished:
                return run.approval
        return None

    def answer_approval(self, execution_id: int, call_id: str, decision: ApprovalDecision) -> None:
        """The person's answer: the worker goes on; "for this chat" is kept with the chat."""
        run = self._runs.get(execution_id)
        if run is None or run.finished or run.approval is None or run.approval.call_id != call_id:
            return
        pending, run.approval = run.approval, None
        if run.approval_since is not None:
            run.waited_s += time.monotonic() - run.approval_since
            run.approval_since = None
        if decision is ApprovalDecision.CHAT:
            try:
                self._services.tool_rules.set_rule(
                    run.user_id,
                    run.thread_id,
                    f"{pending.server}/{pending.tool}",
                    ToolRule.APPROVED,
                    True,
                )
            except Exception:  # the call is still allowed; only the memory of it failed
                log.exception("could not keep the approval of %s/%s", pending.server, pending.tool)
        self._transport.answer(run.run_id, call_id, decision.value)
        self.approval_changed.emit(run.thread_id)

    def stop_elsewhere_with(self, ask_owner: Callable[[int], object]) -> None:
        """How Stop reaches a run another client runs on a shared database (its owner
        gets the request through NOTIFY and cancels it in its worker)."""
        self._ask_owner = ask_owner

    def cancel(self, execution_id: int) -> None:
        """Stop a run now: it ends cancelled with the text it has; the worker is told.
        A run this client does not hold is asked of its owner (``stop_elsewhere_with``)."""
        run = self._runs.get(execution_id)
        if run is None and self._ask_owner is not None:
            try:
                self._ask_owner(execution_id)
            except Exception:  # the run ended or the database is away: nothing to stop
                log.warning("could not ask another desktop to stop run %s", execution_id)
            return
        if run is None or run.finished:
            return
        self._release(run, ExecutionStatus.CANCELLED)
        if run.task is not None:
            run.task.cancel()

    def cancel_thread(self, thread_id: int) -> None:
        """Stop every run of a thread (Stop button, thread deleted)."""
        for run in list(self._runs.values()):
            if run.thread_id == thread_id:
                self.cancel(run.execution_id)

    def shutdown(self) -> None:
        """Stop everything (the app is closing): runs end cancelled, text kept."""
        self._unsubscribe()
        for execution_id in list(self._runs):
            self.cancel(execution_id)
        if self._renewing is not None:
            self._renewing.cancel()

    # -- inputs -----------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        """Change-bus listener: a new pending execution of this client is a run to start;
        a deleted thread ends its runs, and so does Stop pressed on another desktop."""
        if change.entity is Entity.EXECUTION and change.kind is ChangeKind.CREATED:
            if change.origin is None:  # another desktop's run is that desktop's to run
                self._schedule(change.id, change.user_id, change.thread_id)
        elif change.kind is ChangeKind.STOP_REQUESTED:
            run = self._runs.get(change.id)
            if run is not None and run.user_id == change.user_id:
                log.info("run %s stopped from another desktop", change.id)
                self.cancel(change.id)
        elif change.entity is Entity.THREAD and change.kind is ChangeKind.DELETED:
            for run in list(self._runs.values()):
                if run.thread_id == change.id:
                    self._release(run, None)  # its rows are gone: write nothing more
                    if run.task is not None:
                        run.task.cancel()

    def on_worker_event(self, event: Event) -> None:
        """Slot for the worker client's events; routes each to its run."""
        run_id = getattr(event, "run_id", None)
        run = self._by_run_id.get(run_id) if run_id else None
        if run is not None and not run.finished:
            run.events.put_nowait(event)

    # -- the run task -----------------------------------------------------------------

    def _schedule(self, execution_id: int, user_id: int, thread_id: int) -> None:
        if execution_id in self._runs:
            return
        run = _Run(execution_id=execution_id, user_id=user_id, thread_id=thread_id)
        self._runs[execution_id] = run
        loop = asyncio.get_event_loop()
        run.task = loop.create_task(self._drive(run))
        if self._renewing is None or self._renewing.done():
            self._renewing = loop.create_task(self._renew_leases())

    async def _drive(self, run: _Run) -> None:
        lock = self._thread_locks.setdefault(run.thread_id, asyncio.Lock())
        try:
            async with lock, self._slots:
                if not run.finished:
                    await self._execute(run)
        except asyncio.CancelledError:
            pass
        except LeaseLostError:
            self._lose(run)
        except Exception as error:  # a bug here must not leave the run hanging
            log.exception("run %s broke", run.execution_id)
            self._release(run, ExecutionStatus.FAILED, error=f"chatdesk failed: {error}")
        finally:
            self._forget(run)

    async def _execute(self, run: _Run) -> None:
        services = self._services
        thread = services.threads.get(run.user_id, run.thread_id)
        model = self._resolve_model(thread)
        start = await patiently_async(
            lambda: services.executions.start(run.user_id, run.execution_id)
        )
        run.reply_id = start.reply.id
        run.last_save = run.last_log_flush = time.monotonic()
        self.run_started.emit(run.execution_id)
        if model is None:
            self._release(run, ExecutionStatus.FAILED, error=NO_MODEL_ERROR)
            return
        run.run_id = f"{run.execution_id}-{uuid.uuid4().hex[:8]}"
        self._by_run_id[run.run_id] = run
        params = run_settings.effective_params(
            services, run.user_id, run.thread_id, start.execution.crew
        )
        model = run_settings.with_params(model, params)
        files = run_files.files_of(services, run.user_id, start)
        history = run_files.history_for(start.history, files)
        documents = await documents_for_run(services, run.user_id, start.trigger, run.reply_id)
        if run.finished:
            return
        if documents.step is not None:
            run.pending_logs.append(documents.step)
        tools = (
            self._tool_access(run.user_id, run.thread_id)
            if self._tool_access is not None
            else ToolAccess()
        )
        self._transport.submit(
            RunRequest(
                run_id=run.run_id,
                crew=start.execution.crew,
                message=start.trigger.content,
                model=model,
                history=history,
                system_prompt=start.system_prompt or "",
                deadline_s=self._deadline_s,
                history_budget_chars=run_settings.history_budget_chars(params),
                tools=tools,
                images=run_files.images_for(
                    services, files, start, model.model, self._read_settings()
                ),
                documents=documents.text,
            )
        )
        deadline = time.monotonic() + self._deadline_s + self.grace_s
        while not run.finished:
            waiting = time.monotonic() - run.approval_since if run.approval_since else 0.0
            remaining = deadline + run.waited_s + waiting - time.monotonic()
            if remaining <= 0:
                self._release(
                    run,
                    ExecutionStatus.FAILED,
                    error=f"No answer within {self._deadline_s:.0f} s; the run was stopped.",
                )
                return
            try:
                event = await asyncio.wait_for(run.events.get(), timeout=min(remaining, 0.5))
            except TimeoutError:
                self._maybe_flush(run)
                continue
            # Whatever else has arrived is applied in the same turn: a fast stream costs
            # one wake-up per batch of events, not one (with a timer) per chunk.
            self._apply(run, event)
            while not run.finished and not run.events.empty():
                self._apply(run, run.events.get_nowait())

    def _apply(self, run: _Run, event: Event) -> None:
        if isinstance(event, ChunkEvent):
            run.text += event.text
            if len(run.text) > self.max_reply_chars:
                self._stop_at_limit(run)
                return
            self._mark_dirty(run)
        elif isinstance(event, ResetEvent):
            run.text = ""
            self._mark_dirty(run)
        elif isinstance(event, StepEvent):
            detail = dict(event.detail)
            if event.tokens:
                detail["tokens"] = dict(event.tokens)
                _add_spent(run, event.tokens)
            detail["at"] = event.timestamp
            if event.event == "tool_call":
                run.tool_calls.append(_tool_summary(event.detail))
            if (note := run_files.note_of(event)) is not None:
                run.notes.append(note)
            run.pending_logs.append(
                LogEntry(event.event, event.agent_role, event.task_name, detail)
            )
        elif isinstance(event, ApprovalEvent):
            if run.reply_id is not None:
                run.approval = PendingApproval(
                    execution_id=run.execution_id,
                    thread_id=run.thread_id,
                    reply_id=run.reply_id,
                    call_id=event.call_id,
                    server=event.server,
                    tool=event.tool,
                    arguments=dict(event.arguments),
                )
                run.approval_since = time.monotonic()
                self.approval_changed.emit(run.thread_id)
        elif isinstance(event, StatusEvent):
            pass  # running: already recorded when the run started
        elif isinstance(event, CompletedEvent):
            run.text = event.text
            if len(run.text) > self.max_reply_chars:
                self._stop_at_limit(run)
                return
            self._finish(
                run,
                ExecutionStatus.COMPLETED,
                model=event.model,
                tokens=Tokens(event.prompt_tokens, event.completion_tokens, event.total_tokens),
            )
            return
        elif isinstance(event, FailedEvent):
            self._finish(run, ExecutionStatus.FAILED, error=event.error)
            return
        elif isinstance(event, CancelledEvent):
            self._finish(run, ExecutionStatus.CANCELLED)
            return
        self._maybe_flush(run)

    def _stop_at_limit(self, run: _Run) -> None:
        """A reply past the limit: keep its text up to the limit, stop the run, say why."""
        limit = self.max_reply_chars
        run.text = run.text[:limit]
        self._release(
            run,
            ExecutionStatus.FAILED,
            error=(
                f"The reply passed the limit of {limit:,} characters and was stopped; "
                f"its first {limit:,} characters are kept."
            ),
        )

    # -- endings ----------------------------------------------------------------------

    def _release(
        self, run: _Run, status: ExecutionStatus | None, *, error: str | None = None
    ) -> None:
        """End a run from this side: cancel it in the worker, then record the end.

        The one path for every ending decided here. The worker is told first, so it
        stops reading the provider even when recording the end fails. ``status`` None
        records nothing (the run's rows are gone with its thread).
        """
        if run.finished:
            return
        if run.run_id:
            self._transport.cancel(run.run_id)
        if status is None:
            run.finished = True
            self._forget(run)
        else:
            self._finish(run, status, error=error)

    # -- writes -----------------------------------------------------------------------

    def _maybe_flush(self, run: _Run) -> None:
        """Save progress now and then; a save the database refuses (busy, full) is
        logged and tried again at the next turn: text and steps wait in memory."""
        now = time.monotonic()
        try:
            if run.pending_logs and now - run.last_log_flush >= LOG_FLUSH_EVERY_S:
                self._flush_logs(run)
            due = now - run.last_save >= SAVE_EVERY_S
            if due and run.reply_id is not None and run.text != run.saved_text:
                run.last_save = now  # a save that fails is tried again a period later
                self._services.executions.save_text(run.user_id, run.reply_id, run.text)
                run.saved_text = run.text
        except LeaseLostError:
            self._lose(run)  # another client has this run now: write nothing more
        except StorageError as error:
            if error.kind is StorageFault.BUSY:  # the text stays here and goes out next time
                log.warning("run %s: progress not saved, trying later: %s", run.execution_id, error)
                return
            log.warning("run %s: progress cannot be saved: %s", run.execution_id, error)
            self._release(run, ExecutionStatus.FAILED, error=_could_not_save(error))
        except Exception as error:
            log.exception("could not save run %s", run.execution_id)
            self._release(run, ExecutionStatus.FAILED, error=_could_not_save(error))

    def _flush_logs(self, run: _Run) -> None:
        run.last_log_flush = time.monotonic()
        if run.pending_logs:  # dropped only once stored
            self._services.executions.append_logs(run.user_id, run.execution_id, run.pending_logs)
            run.pending_logs = []

    def _finish(
        self,
        run: _Run,
        status: ExecutionStatus,
        *,
        error: str | None = None,
        model: str | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        if run.finished:
            return
        run.finished = True
        if tokens is None and run.spent is not None:  # a failed or stopped run's calls cost too
            tokens = Tokens(run.spent[0], run.spent[1], sum(run.spent))
        try:
            self._flush_logs(run)
            self._services.executions.finish(
                run.user_id,
                run.execution_id,
                status,
                text=run.text if run.reply_id is not None else None,
                error=error,
                model=model,
                tokens=tokens,
                tool_calls=run.tool_calls,
                notes=run.notes,
            )
        except LeaseLostError:
            self._lose(run)
            return
        except Exception as error:
            log.exception("could not record the end of run %s", run.execution_id)
            status = ExecutionStatus.FAILED
            try:  # never leave the bubble "processing": end it, keeping the saved text
                self._services.executions.finish(
                    run.user_id,
                    run.execution_id,
                    status,
                    error=_could_not_save(error),
                )
            except Exception:
                log.exception("could not mark run %s failed either", run.execution_id)
                if run.reply_id is not None:  # on screen until chatdesk closes
                    self._unsaved[run.reply_id] = run.text
                self.save_failed.emit(run.execution_id, str(error))
        if run.reply_id is not None:
            self._dirty.discard(run.reply_id)
            self.reply_text_changed.emit(run.reply_id, run.text)
        self.run_finished.emit(run.execution_id, status.value)
        self._forget(run)

    # -- leases -----------------------------------------------------------------------

    async def _renew_leases(self) -> None:
        """Renew the leases of the runs held here, as long as there are any."""
        while self._runs:
            await asyncio.sleep(RENEW_EVERY_S)
            held = list(self._runs)
            try:
                lost = self._services.executions.renew_leases(held)
            except Exception:  # a busy database: the next round (or a save) renews
                log.exception("could not renew the leases of runs %s", held)
                continue
            for execution_id in lost:
                run = self._runs.get(execution_id)
                if run is not None:
                    self._lose(run)

    def _lose(self, run: _Run) -> None:
        """Another client took this run over: stop it here, writing nothing more."""
        log.warning("run %s was taken over by another chatdesk", run.execution_id)
        run.finished = True
        self._forget(run)
        if run.run_id:
            self._transport.cancel(run.run_id)
        if run.task is not None and run.task is not _current_task():
            run.task.cancel()
        if run.reply_id is not None:
            self._dirty.discard(run.reply_id)
        try:
            status = self._services.executions.announce(run.user_id, run.execution_id).status
        except Exception:  # deleted meanwhile: there is nothing left to show
            log.exception("could not read run %s after losing it", run.execution_id)
            status = ExecutionStatus.FAILED
        self.run_finished.emit(run.execution_id, status.value)

    def _forget(self, run: _Run) -> None:
        self._runs.pop(run.execution_id, None)
        if run.run_id:
            self._by_run_id.pop(run.run_id, None)
        if run.approval is not None:  # the question died with its run
            run.approval = None
            self.approval_changed.emit(run.thread_id)

    # -- per-frame UI updates -----------------------------------------------------------

    def _mark_dirty(self, run: _Run) -> None:
        if run.reply_id is None:
            return
        self._dirty.add(run.reply_id)
        if not self._frame_scheduled:
            # The first text after a quiet spell shows at once; after that at most one
            # update per frame.
            self._frame_scheduled = True
            wait = self._last_frame + FRAME_S - time.monotonic()
            loop = asyncio.get_event_loop()
            if wait <= 0:
                loop.call_soon(self._emit_frame)
            else:
                loop.call_later(wait, self._emit_frame)

    def _emit_frame(self) -> None:
        self._frame_scheduled = False
        self._last_frame = time.monotonic()
        dirty, self._dirty = self._dirty, set()
        for message_id in dirty:
            text = self.live_text(message_id)
            if text is not None:
                self.reply_text_changed.emit(message_id, text)


def _add_spent(run: _Run, tokens: Mapping[str, int]) -> None:
    """Count a model call's reported tokens (crew totals, which carry no split, are not
    calls): what a run that fails or is stopped records as its usage."""
    if "prompt_tokens" not in tokens and "completion_tokens" not in tokens:
        return
    spent_in, spent_out = run.spent or (0, 0)
    run.spent = (
        spent_in + max(tokens.get("prompt_tokens", 0), 0),
        spent_out + max(tokens.get("completion_tokens", 0), 0),
    )


def _tool_summary(detail: dict[str, object]) -> ToolCallSummary:
    duration = detail.get("duration_ms")
    return ToolCallSummary(
        server=str(detail.get("server") or ""),
        tool=str(detail.get("tool") or detail.get("tool_name") or "?"),
        approval=str(detail.get("approval") or ""),
        duration_ms=duration if isinstance(duration, int) else 0,
        failed=bool(detail.get("error")),
    )


def _could_not_save(error: Exception) -> str:
    """Why a write failed, in the database's own words: never the SQL statement or its
    values, which hold the reply itself."""
    cause = error.orig if isinstance(error, StatementError) and error.orig else error
    return f"chatdesk could not save this reply: {cause}"


def _current_task() -> asyncio.Task[object] | None:
    """The task running now, or None when called outside one (a Qt slot)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
