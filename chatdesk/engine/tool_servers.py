"""The worker's MCP servers: started once, reused by every run, restarted when broken.

Why a pool of our own around the SDK's client session: CrewAI's ``mcps`` support opens
a fresh connection for every tool call (a stdio server would be started and stopped
per call, losing its state and a second or more each time). Here each server gets one
long-lived session, owned by one task on one asyncio loop in a thread of its own; run
threads call into it with :meth:`ServerPool.call`, which waits for the answer while
watching the run's cancel signal, so Stop is never stuck behind a hung server.

A server that cannot start, crashes or times out is marked broken: the call in flight
fails with a readable :class:`ToolServerError`, and the next call (in practice the next
run) starts it again. A call that was sent is never retried: a tool may have effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from chatdesk.engine.mcp_session import open_session
from chatdesk.engine.protocol import ToolServer
from chatdesk.engine.stderr_tail import StderrTail

log = logging.getLogger("chatdesk.engine.tool_servers")

_T = TypeVar("_T")

START_TIMEOUT_S = 30.0
MAX_TOOLS_PER_SERVER = 500
CLOSE_TIMEOUT_S = 5.0
POLL_S = 0.05


class ToolServerError(Exception):
    """A server could not start, or a call could not complete; ``str`` is for people."""


class ToolCallCancelled(Exception):
    """The run was stopped while the call was in flight."""


@dataclass(frozen=True)
class ToolInfo:
    """One tool a server offers, as it described itself."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class CallOutcome:
    """A completed call: its text (``is_error``: the server reported a tool error)."""

    text: str
    is_error: bool


class _Server:
    """One running server and the task that owns its session."""

    def __init__(self, config: ToolServer, loop: asyncio.AbstractEventLoop):
        self.config = config
        self.spec = config.session_spec()
        self.session: Any = None
        self.tools: list[ToolInfo] = []
        self.ready: asyncio.Future[list[ToolInfo]] = loop.create_future()
        self.stop = asyncio.Event()
        self.broken = False
        self.task: asyncio.Task[None] | None = None
        self.errlog = StderrTail()

    @property
    def alive(self) -> bool:
        return not self.broken and self.task is not None and not self.task.done()

    def last_words(self) -> str:
        """The last line the server wrote to stderr (why it would not start, often)."""
        self.errlog.settle()
        return self.errlog.last_line()[:300]


class ServerPool:
    """Every MCP server of this worker, by name. Thread-safe; blocking calls."""

    def __init__(self, base_env: Mapping[str, str]):
        self._base_env = dict(base_env)
        self._loop = asyncio.new_event_loop()
        self._servers: dict[str, _Server] = {}
        self._stopping: set[asyncio.Task[None]] = set()  # kept referenced until done
        self._closed = False
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp", daemon=True)
        self._thread.start()

    # -- run threads ------------------------------------------------------------

    def tools(self, config: ToolServer, cancel: threading.Event | None = None) -> list[ToolInfo]:
        """The server's tools, starting it first if needed (or again if broken)."""
        return self._wait(self._ensure(config), START_TIMEOUT_S + 5, cancel)

    def start_all(
        self, configs: list[ToolServer], cancel: threading.Event | None = None
    ) -> dict[str, list[ToolInfo] | ToolServerError]:
        """Start several servers at once (their start-ups overlap); each one's tools or
        why it could not start."""

        async def together() -> dict[str, list[ToolInfo] | ToolServerError]:
            results = await asyncio.gather(
                *(self._ensure(config) for config in configs), return_exceptions=True
            )
            out: dict[str, list[ToolInfo] | ToolServerError] = {}
            for config, result in zip(configs, results, strict=True):
                if isinstance(result, ToolServerError):
                    out[config.name] = result
                elif isinstance(result, BaseException):
                    out[config.name] = ToolServerError(str(result))
                else:
                    out[config.name] = result
            return out

        return self._wait(together(), START_TIMEOUT_S + 5, cancel)

    def call(
        self,
        config: ToolServer,
        tool: str,
        arguments: dict[str, Any],
        cancel: threading.Event | None = None,
    ) -> CallOutcome:
        """Call one tool; :class:`ToolServerError` / :class:`ToolCallCancelled` otherwise."""
        return self._wait(
            self._call(config, tool, arguments), config.timeout_s + START_TIMEOUT_S + 5, cancel
        )

    def running(self) -> list[str]:
        return [name for name, server in list(self._servers.items()) if server.alive]

    def close(self) -> None:
        """Stop every server (and the processes they started); idempotent."""
        if self._closed:
            return
        self._closed = True
        future = asyncio.run_coroutine_threadsafe(self._stop_all(), self._loop)
        with contextlib.suppress(Exception):
            future.result(CLOSE_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT_S)

    def _wait(
        self, coro: Coroutine[Any, Any, _T], timeout_s: float, cancel: threading.Event | None
    ) -> _T:
        if self._closed:
            coro.close()
            raise ToolServerError("the worker is shutting down")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        waited = 0.0
        while True:
            try:
                return future.result(POLL_S)
            except TimeoutError:
                waited += POLL_S
            if cancel is not None and cancel.is_set():
                future.cancel()
                raise ToolCallCancelled("the run was stopped")
            if waited > timeout_s:  # a safety net; the loop's own timeouts come first
                future.cancel()
                raise ToolServerError("the tool server did not answer in time")

    # -- the loop's side --------------------------------------------------------

    async def _ensure(self, config: ToolServer) -> list[ToolInfo]:
        server = self._servers.get(config.name)
        if server is not None and (not server.alive or server.spec != config.session_spec()):
            if server.ready.done() and server.alive:
                log.info("tool server %s changed; restarting it", config.name)
            await self._stop(server)
            server = None
        if server is None:
            server = _Server(config, self._loop)
            self._servers[config.name] = server
            server.task = self._loop.create_task(self._own(server), name=f"mcp-{config.name}")
        try:
            return await asyncio.shield(server.ready)
        except ToolServerError:
            raise
        except Exception as exc:  # pragma: no cover - _own always sets a ToolServerError
            raise ToolServerError(str(exc)) from exc

    async def _own(self, server: _Server) -> None:
        """Open the session, publish its tools, keep it until told to stop."""
        name = server.config.name
        try:
            async with open_session(
                server.spec, server.errlog.file, base_env=self._base_env, supervised=True
            ) as session:
                await asyncio.wait_for(session.initialize(), START_TIMEOUT_S)
                listed = await asyncio.wait_for(session.list_tools(), START_TIMEOUT_S)
                server.tools = [
                    ToolInfo(
                        name=tool.name,
                        description=(tool.description or "")[:2000],
                        input_schema=dict(tool.inputSchema or {}),
                    )
                    for tool in listed.tools[:MAX_TOOLS_PER_SERVER]
                ]
                server.session = session
                server.ready.set_result(server.tools)
                await server.stop.wait()
        except BaseException as exc:
            if not server.ready.done():
                server.ready.set_exception(ToolServerError(self._start_failure(server, exc)))
                server.ready.exception()  # retrieved: no "never retrieved" warning
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                raise
            log.info("tool server %s ended: %r", name, exc)
        finally:
            server.broken = True
            server.session = None

    def _start_failure(self, server: _Server, exc: BaseException) -> str:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        name = server.config.name
        if isinstance(exc, FileNotFoundError):
            text = f"The tool server {name!r} could not start: {exc.filename or exc} not found"
        elif isinstance(exc, TimeoutError):
            text = f"The tool server {name!r} did not answer within {START_TIMEOUT_S:.0f} s"
        else:
            text = f"The tool server {name!r} could not start ({type(exc).__name__}: {exc})"
        said = server.last_words()
        return f"{text}; it said: {said}" if said else text

    async def _call(self, config: ToolServer, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        await self._ensure(config)
        server = self._servers[config.name]
        session = server.session
        if session is None:
            raise ToolServerError(f"The tool server {config.name!r} is not running")
        try:
            result = await session.call_tool(
                tool, arguments, read_timeout_seconds=timedelta(seconds=config.timeout_s)
            )
        except asyncio.CancelledError:
            # The run was stopped mid-call. The server may be stuck on that call for good
            # (a tool that never returns blocks many servers entirely): the next call gets
            # a fresh one rather than waiting behind it.
            server.broken = True
            stopping = self._loop.create_task(self._stop(server))
            self._stopping.add(stopping)
            stopping.add_done_callback(self._stopping.discard)
            raise
        except Exception as exc:
            reason = self._call_failure(server, exc)
            # Whatever state it is in (hung on the call, crashed, confused), the next
            # call gets a fresh one.
            await self._stop(server)
            raise ToolServerError(reason) from None
        from crewai.mcp.content import content_blocks_to_text

        text = content_blocks_to_text(result.content) if result.content else ""
        if not text and getattr(result, "structuredContent", None) is not None:
            import json

            text = json.dumps(result.structuredContent, ensure_ascii=False)
        return CallOutcome(text=text, is_error=bool(result.isError))

    def _call_failure(self, server: _Server, exc: BaseException) -> str:
        name = server.config.name
        message = str(getattr(getattr(exc, "error", None), "message", "") or exc)
        if "timed out" in message.lower() or isinstance(exc, TimeoutError):
            return (
                f"The tool server {name!r} did not answer within "
                f"{server.config.timeout_s:g} s; it will be restarted"
            )
        said = server.last_words()
        text = f"The tool server {name!r} stopped answering ({type(exc).__name__}: {message})"
        return f"{text}; it said: {said}" if said else text

    async def _stop(self, server: _Server) -> None:
        server.broken = True
        server.stop.set()
        if server.task is not None and not server.task.done():
            try:
                await asyncio.wait_for(asyncio.shield(server.task), CLOSE_TIMEOUT_S)
            except (TimeoutError, Exception):
                server.task.cancel()
                with contextlib.suppress(BaseException):
                    await server.task
        server.errlog.close()
        if self._servers.get(server.config.name) is server:
            del self._servers[server.config.name]

    async def _stop_all(self) -> None:
        await asyncio.gather(
            *(self._stop(server) for server in list(self._servers.values())),
            return_exceptions=True,
        )
