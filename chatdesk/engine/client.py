"""The GUI side of the execution worker: start it, talk to it, and survive it dying.

Why Qt's QProcess: it starts the worker without blocking and delivers its output as
signals on the GUI thread, so this works the same under a plain Qt event loop
(pytest-qt's ``qtbot``) and under qasync. This module imports only Qt and the
protocol, never CrewAI (a test checks that).

What it guarantees to its user (the execution coordinator):

* every run submitted gets exactly one terminal event (``completed``, ``failed`` or
  ``cancelled``), whatever happens to the worker: if it crashes, is killed or stops
  answering pings, each run it held gets a synthetic ``failed`` (kind
  ``worker_died``) and a fresh worker starts;
* a ``cancel`` ends in ``cancelled`` within ``cancel_grace_ms`` (1.5 s) plus a few
  milliseconds: if the worker does not confirm by then, it is killed and replaced,
  unless it has been talking meanwhile (then the GUI was behind reading it, the
  confirmation is queued after that output, and it gets one more grace to arrive);
* runs submitted before the worker is ready wait in a queue;
* events of a run keep increasing ``seq`` (synthetic ones continue the sequence), and
  nothing of a run is emitted after its terminal event.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from chatdesk.engine.protocol import (
    ApprovalReply,
    CancelledEvent,
    CancelRequest,
    ErrorKind,
    Event,
    FailedEvent,
    PingRequest,
    PongEvent,
    ProtocolError,
    ReadyEvent,
    Request,
    RunEvent,
    RunRequest,
    ShutdownRequest,
    TitleEvent,
    TitleRequest,
    ToolAccess,
    ToolsEvent,
    WarmToolsRequest,
    decode_event,
    encode,
    is_terminal,
)

log = logging.getLogger("chatdesk.engine.client")
worker_log = logging.getLogger("chatdesk.engine.worker")

WORKER_MODULE = "chatdesk.engine.worker"


def _weak_slot(owner: QObject, method: str, *bound: Any) -> Callable[..., None]:
    """A slot calling ``owner.method(*bound, *signal_args)`` without keeping ``owner`` alive.

    A lambda closing over ``self`` and connected to a child's signal ties the Python
    wrapper's lifetime to the child's C++ object; the owner can then be destroyed from
    inside the child's destructor, which deletes the child twice (a crash).
    """
    ref = weakref.ref(owner)

    def slot(*args: Any) -> None:
        target = ref()
        if target is not None:
            getattr(target, method)(*bound, *args)

    return slot


class WorkerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"


@dataclass
class _Run:
    request: RunRequest
    last_seq: int = 0
    cancel_timer: QTimer | None = None
    cancel_sent_at: float = 0.0


@dataclass
class _Generation:
    """One worker process and what belongs to it alone."""

    number: int
    process: QProcess
    started_at: float
    buffer: bytearray = field(default_factory=bytearray)
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=30))
    stderr_buffer: bytearray = field(default_factory=bytearray)
    ready: bool = False
    outstanding_ping: tuple[int, float] | None = None  # (nonce, sent at)
    abandoned: bool = False
    reading: bool = False  # _on_stdout is on the stack (see _write)
    last_output_at: float = 0.0  # when output was last read from it
    unconfirmed: dict[str, QTimer] = field(default_factory=dict)  # cancels given up on here


class WorkerClient(QObject):
    """Runs crews in a worker process; one Qt signal per protocol event.

    ``event_received`` carries run events (:data:`chatdesk.engine.protocol.RunEvent`) and
    the answers to ``ask_title`` (a :class:`~chatdesk.engine.protocol.TitleEvent`);
    ``worker_ready`` a :class:`~chatdesk.engine.protocol.ReadyEvent`; ``worker_died`` a
    human-readable reason (a new worker is already on its way when it is emitted);
    ``tools_listed`` a :class:`~chatdesk.engine.protocol.ToolsEvent` after a warm-up.
    """

    event_received = Signal(object)
    worker_ready = Signal(object)
    worker_died = Signal(str)
    tools_listed = Signal(object)  # a ToolsEvent: what the MCP servers offer

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        data_dir: Path | None = None,
        python: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        ping_interval_ms: int = 2000,
        ping_timeout_ms: int = 6000,
        cancel_grace_ms: int = 1500,
        startup_timeout_ms: int = 90_000,
        max_start_failures: int = 3,
    ) -> None:
        super().__init__(parent)
        self._data_dir = data_dir
        self._python = python or sys.executable
        self._extra_env = dict(extra_env or {})
        self._ping_timeout_s = ping_timeout_ms / 1000
        self._cancel_grace_ms = cancel_grace_ms
        self._startup_timeout_s = startup_timeout_ms / 1000
        self._max_start_failures = max_start_failures

        self._gen: _Generation | None = None
        self._generation_numbers = itertools.count(1)
        self._runs: dict[str, _Run] = {}  # sent to the current worker, not yet ended
        self._queue: deque[RunRequest] = deque()  # waiting for a ready worker
        self._listeners: dict[str, Callable[[RunEvent], None]] = {}
        self._nonces = itertools.count(1)
        self._start_failures = 0
        self._closing = False
        self.last_startup_s: float | None = None  # process start -> ready, as seen here
        self.last_ready: ReadyEvent | None = None

        self._ping_timer = QTimer(self)
        self._ping_timer.setInterval(ping_interval_ms)
        self._ping_timer.timeout.connect(self._on_ping_timer)
        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.timeout.connect(self._start_process)

    # ------------------------------------------------------------------ API

    @property
    def state(self) -> WorkerState:
        if self._gen is None:
            return WorkerState.STOPPED
        return WorkerState.READY if self._gen.ready else WorkerState.STARTING

    @property
    def is_ready(self) -> bool:
        return self.state is WorkerState.READY

    @property
    def pid(self) -> int | None:
        if self._gen is None:
            return None
        pid = int(self._gen.process.processId())
        return pid or None

    def active_runs(self) -> list[str]:
        """Runs submitted and not yet ended (queued ones included)."""
        return [*self._runs, *(r.run_id for r in self._queue)]

    def start(self) -> None:
        """Start the worker in the background (returns at once; idempotent)."""
        self._closing = False
        if self._gen is None and not self._restart_timer.isActive():
            self._start_process()

    def submit(self, request: RunRequest) -> None:
        """Run a crew. Events follow on ``event_received``; starts the worker if needed."""
        if request.run_id in self._runs or any(r.run_id == request.run_id for r in self._queue):
            raise ValueError(f"run {request.run_id!r} is already active")
        self._queue.append(request)
        if self._gen is None:
            self._start_failures = 0
            self.start()
        elif self._gen.ready:
            self._send_queued()

    def cancel(self, run_id: str) -> None:
        """Stop a run; ``cancelled`` follows within ``cancel_grace_ms`` at the latest."""
        for queued in list(self._queue):
            if queued.run_id == run_id:
                self._queue.remove(queued)
                self._deliver(CancelledEvent(run_id=run_id, seq=1))
                return
        run = self._runs.get(run_id)
        if run is None or run.cancel_timer is not None:
            return
        self._write(CancelRequest(run_id=run_id))
        run.cancel_sent_at = time.monotonic()
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(_weak_slot(self, "_cancel_overdue", run_id))
        timer.start(self._cancel_grace_ms)
        run.cancel_timer = timer

    def ask_title(self, request: TitleRequest) -> bool:
        """Ask the ready worker for a chat's title (a ``TitleEvent`` follows on
        ``event_received``); False when it is not ready (a title is not worth a start)."""
        if not self.is_ready:
            return False
        self._write(request)
        return True

    def warm_tools(self, tools: ToolAccess) -> None:
        """Have the worker start these MCP servers now (ignored unless it is ready)."""
        if self.is_ready and tools.servers:
            self._write(WarmToolsRequest(tools=tools))

    def answer(self, run_id: str, call_id: str, decision: str) -> None:
        """The person's answer to a tool call waiting for approval (see ApprovalEvent)."""
        if run_id in self._runs:
            self._write(ApprovalReply(run_id=run_id, call_id=call_id, decision=decision))

    async def run_stream(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        """Submit ``request`` and yield its events until the terminal one (for qasync).

        Leaving the loop early (or cancelling the awaiting task) cancels the run.
        """
        events: asyncio.Queue[RunEvent] = asyncio.Queue()
        self._listeners[request.run_id] = events.put_nowait
        ended = False
        try:
            self.submit(request)
            while not ended:
                event = await events.get()
                ended = is_terminal(event)
                yield event
        finally:
            self._listeners.pop(request.run_id, None)
            if not ended:
                self.cancel(request.run_id)

    def shutdown(self, wait_ms: int = 2000) -> list[str]:
        """Stop the worker for good (app exit). Blocks up to ``wait_ms``.

        Returns the ids of runs that had not ended; no further events are emitted for
        them (the store marks such runs interrupted at next start-up).
        """
        self._closing = True
        self._ping_timer.stop()
        self._restart_timer.stop()
        unfinished = self.active_runs()
        for run in self._runs.values():
            if run.cancel_timer is not None:
                run.cancel_timer.stop()
        self._runs.clear()
        self._queue.clear()
        gen, self._gen = self._gen, None
        if gen is not None:
            gen.abandoned = True
            process = gen.process
            if process.state() != QProcess.ProcessState.NotRunning:
                process.write(encode(ShutdownRequest()))
                process.closeWriteChannel()
                if not process.waitForFinished(wait_ms):
                    process.kill()
                    process.waitForFinished(2000)
            process.deleteLater()
        return unfinished

    def restart_worker(self, reason: str = "The worker was restarted.") -> None:
        """Kill the worker and start a fresh one; its runs fail with ``reason``."""
        if self._gen is not None:
            self._abandon(self._gen, reason)
        else:
            self.start()

    # ------------------------------------------------------------- process

    def _environment(self) -> QProcessEnvironment:
        env = QProcessEnvironment.systemEnvironment()
        package_root = str(Path(__file__).resolve().parents[2])
        pythonpath = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", package_root + (os.pathsep + pythonpath if pythonpath else ""))
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        if self._data_dir is not None:
            env.insert("CHATDESK_DATA_DIR", str(self._data_dir))
        for key, value in self._extra_env.items():
            env.insert(key, value)
        return env

    def _start_process(self) -> None:
        if self._closing or self._gen is not None:
            return
        process = QProcess(self)
        process.setProgram(self._python)
        process.setArguments(["-m", WORKER_MODULE])
        process.setProcessEnvironment(self._environment())
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        gen = _Generation(next(self._generation_numbers), process, time.monotonic())
        self._gen = gen
        process.readyReadStandardOutput.connect(_weak_slot(self, "_on_stdout", gen))
        process.readyReadStandardError.connect(_weak_slot(self, "_on_stderr", gen))
        process.finished.connect(_weak_slot(self, "_on_finished", gen))
        process.errorOccurred.connect(_weak_slot(self, "_on_error", gen))
        log.info("starting worker #%d", gen.number)
        process.start()
        self._ping_timer.start()

    def _on_stdout(self, gen: _Generation) -> None:
        """Handle every complete line, in order, including lines that arrive meanwhile.

        Handling a line can write a request (``ready`` sends the queued runs), and
        writing may deliver new output from inside (see ``_write``): that nested call
        leaves the reading to this one, so events are never handled out of order.
        """
        if gen.abandoned or gen.reading:
            return
        gen.reading = True
        try:
            while not gen.abandoned:
                output = gen.process.readAllStandardOutput().data()
                if output:
                    gen.last_output_at = time.monotonic()
                    gen.buffer += output
                newline = gen.buffer.find(b"\n")
                if newline < 0:
                    break
                line = bytes(gen.buffer[:newline])
                del gen.buffer[: newline + 1]
                if line.strip():
                    self._on_line(gen, line)
        finally:
            gen.reading = False

    def _on_stderr(self, gen: _Generation) -> None:
        gen.stderr_buffer += gen.process.readAllStandardError().data()
        *lines, rest = bytes(gen.stderr_buffer).split(b"\n")
        gen.stderr_buffer = bytearray(rest)
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                gen.stderr_tail.append(text)
                worker_log.info("[worker #%d] %s", gen.number, text)

    def _on_line(self, gen: _Generation, line: bytes) -> None:
        try:
            event = decode_event(line)
        except ProtocolError as exc:
            log.warning("worker #%d sent an invalid line (%s): %.200r", gen.number, exc, line)
            return
        if isinstance(event, PongEvent):
            if gen.outstanding_ping and gen.outstanding_ping[0] == event.nonce:
                gen.outstanding_ping = None
            return
        if isinstance(event, ToolsEvent):
            self.tools_listed.emit(event)
            return
        if isinstance(event, TitleEvent):
            self.event_received.emit(event)  # belongs to no run
            return
        if isinstance(event, ReadyEvent):
            gen.ready = True
            self._start_failures = 0
            self.last_ready = event
            self.last_startup_s = time.monotonic() - gen.started_at
            log.info(
                "worker #%d ready in %.2f s (CrewAI %s)",
                gen.number,
                self.last_startup_s,
                event.crewai_version,
            )
            self.worker_ready.emit(event)
            self._send_queued()
            return
        if is_terminal(event):
            self._confirmed(gen, str(getattr(event, "run_id", "")))
        self._on_run_event(event)

    def _on_run_event(self, event: Event) -> None:
        run_id = getattr(event, "run_id", None)
        if run_id is None or run_id not in self._runs:
            return  # a run that already ended (e.g. a synthetic terminal was sent)
        run = self._runs[run_id]
        run.last_seq = max(run.last_seq, int(getattr(event, "seq", 0)))
        if is_terminal(event):
            self._end_run(run_id)
        self._deliver(event)  # type: ignore[arg-type]

    def _deliver(self, event: RunEvent) -> None:
        listener = self._listeners.get(event.run_id)
        if listener is not None:
            listener(event)
        self.event_received.emit(event)

    def _end_run(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None and run.cancel_timer is not None:
            run.cancel_timer.stop()
            run.cancel_timer.deleteLater()

    def _send_queued(self) -> None:
        while self._queue and self._gen is not None and self._gen.ready:
            request = self._queue.popleft()
            self._runs[request.run_id] = _Run(request)
            self._write(request)

    def _write(self, request: Request) -> None:
        if self._gen is None or self._gen.abandoned:
            return
        process = self._gen.process
        process.write(encode(request))
        # QProcess only buffers here and writes on a later turn of the event loop,
        # after whatever the GUI does next (a reply's bubbles, ~10-20 ms): the worker
        # would start that much later. Write now if the pipe takes it (never blocks).
        # Qt may deliver the worker's pending output from inside this call: runs are
        # registered before their request, and _on_stdout keeps lines in order.
        process.waitForBytesWritten(0)

    # ------------------------------------------------------- failure paths

    def _on_ping_timer(self) -> None:
        gen = self._gen
        if gen is None or gen.abandoned:
            return
        now = time.monotonic()
        if not gen.ready and now - gen.started_at > self._startup_timeout_s:
            self._abandon(gen, f"The worker did not start within {self._startup_timeout_s:g} s.")
            return
        if gen.outstanding_ping is not None:
            if now - gen.outstanding_ping[1] > self._ping_timeout_s:
                self._abandon(
                    gen,
                    f"The worker stopped responding (no answer for {self._ping_timeout_s:g} s).",
                )
            return
        if gen.process.state() == QProcess.ProcessState.Running:
            nonce = next(self._nonces)
            gen.outstanding_ping = (nonce, now)
            self._write(PingRequest(nonce=nonce))

    def _cancel_overdue(self, run_id: str) -> None:
        run = self._runs.get(run_id)
        gen = self._gen
        if run is None or gen is None:
            return
        # A GUI busy past the grace has not read what the worker wrote meanwhile:
        # its confirmation may be there already.
        gen.process.waitForReadyRead(0)
        self._on_stdout(gen)
        if run_id not in self._runs:
            return
        self._end_run(run_id)
        self._deliver(CancelledEvent(run_id=run_id, seq=run.last_seq + 1))
        if gen.last_output_at > run.cancel_sent_at:
            # Talking, so not hung: the confirmation is queued behind output the GUI
            # was late to read (a run streaming fast). One more grace to arrive.
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(_weak_slot(self, "_confirmation_overdue", gen, run_id))
            timer.start(self._cancel_grace_ms)
            gen.unconfirmed[run_id] = timer
            return
        self._restart_for(gen, run_id)

    def _confirmed(self, gen: _Generation, run_id: str) -> None:
        timer = gen.unconfirmed.pop(run_id, None)
        if timer is not None:
            timer.stop()
            timer.deleteLater()

    def _confirmation_overdue(self, gen: _Generation, run_id: str) -> None:
        if gen.unconfirmed.pop(run_id, None) is not None and not gen.abandoned:
            self._restart_for(gen, run_id)

    def _restart_for(self, gen: _Generation, run_id: str) -> None:
        log.warning("run %s ignored its cancel: restarting the worker", run_id)
        self._abandon(gen, "The worker was restarted because a run did not stop in time.")

    def _on_error(self, gen: _Generation, error: QProcess.ProcessError) -> None:
        if gen.abandoned:
            return
        if error == QProcess.ProcessError.FailedToStart:
            self._abandon(gen, f"The worker could not be started ({gen.process.errorString()}).")
        # Crashed/others are followed by finished(), handled there.

    def _on_finished(self, gen: _Generation, code: int, status: QProcess.ExitStatus) -> None:
        if gen.abandoned:
            return
        self._on_stdout(gen)  # events written just before the end still count
        self._on_stderr(gen)
        if status == QProcess.ExitStatus.CrashExit:
            how = "it crashed or was killed"
        else:
            how = f"exit code {code}"
        last = gen.stderr_tail[-1] if gen.stderr_tail else ""
        reason = f"The worker stopped unexpectedly ({how})."
        if last and not gen.ready:
            reason += f" Last message: {last}"
        self._abandon(gen, reason)

    def _abandon(self, gen: _Generation, reason: str) -> None:
        """Give up on a worker: fail its runs, kill it, start the next one."""
        if gen.abandoned:
            return
        gen.abandoned = True
        if self._gen is gen:
            self._gen = None
        for timer in gen.unconfirmed.values():
            timer.stop()
            timer.deleteLater()
        gen.unconfirmed.clear()
        if not gen.ready:
            self._start_failures += 1
        log.warning("worker #%d abandoned: %s", gen.number, reason)
        process = gen.process
        if process.state() != QProcess.ProcessState.NotRunning:
            process.kill()
            process.waitForFinished(2000)
        process.deleteLater()
        for run_id in list(self._runs):
            run = self._runs[run_id]
            self._end_run(run_id)
            self._deliver(
                FailedEvent(
                    run_id=run_id,
                    seq=run.last_seq + 1,
                    error=f"{reason} The reply was interrupted; you can retry it.",
                    kind=ErrorKind.WORKER_DIED.value,
                    detail="\n".join(gen.stderr_tail),
                )
            )
        if self._closing:
            return
        self.worker_died.emit(reason)
        if self._start_failures >= self._max_start_failures:
            # Starting keeps failing: fail what waits instead of looping forever.
            # The next submit() tries again.
            self._ping_timer.stop()
            tail = " | ".join(list(gen.stderr_tail)[-3:])
            while self._queue:
                request = self._queue.popleft()
                self._deliver(
                    FailedEvent(
                        run_id=request.run_id,
                        seq=1,
                        error=f"The worker could not start. {reason}",
                        kind=ErrorKind.WORKER_DIED.value,
                        detail=tail,
                    )
                )
            return
        delay = 0 if self._start_failures == 0 else 500 * 2 ** (self._start_failures - 1)
        self._restart_timer.start(delay)
