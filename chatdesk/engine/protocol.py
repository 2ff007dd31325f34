"""The JSON-lines protocol between the GUI and the execution worker process.

Why a protocol module of its own: both sides (the GUI's :mod:`chatdesk.engine.client`
and the worker) must agree on every message, and the GUI must be able to import
it without pulling in CrewAI. So this module is pure standard library.

Framing: one JSON object per line, UTF-8, ``\\n``-terminated. Requests go GUI → worker
on the worker's stdin; events go worker → GUI on its stdout; the worker's stderr is
for human-readable logs only. Every message has a ``type``. Events about a run carry
its ``run_id`` and a per-run ``seq`` that increases by one with each event of that run
(the client continues the sequence for events it synthesises).

``decode_request`` / ``decode_event`` validate and raise :class:`ProtocolError` on
anything malformed; ``encode`` turns any message into one line (bytes, with ``\\n``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, ClassVar, Literal, TypeAlias

from chatdesk.model_params import (
    CHARS_PER_TOKEN,
    CONTEXT_TOKENS_RANGE,
    ModelParamError,
    ModelParams,
)
from chatdesk.vocabulary import ApprovalDecision

PROTOCOL_VERSION = 1


class ProtocolError(ValueError):
    """A line that is not a valid protocol message."""


class ErrorKind(StrEnum):
    """Why a run failed: a stable code the GUI can branch on (Retry, settings, ...)."""

    UNREACHABLE = "unreachable"  # no connection to the model server
    AUTH = "auth"  # 401/403: API key rejected
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx
    BAD_REQUEST = "bad_request"  # other 4xx (unknown model, bad parameters)
    TIMEOUT = "timeout"  # the server stopped answering (read timeout)
    STREAM_BROKEN = "stream_broken"  # the connection dropped mid-reply
    EMPTY_REPLY = "empty_reply"  # the model returned nothing
    BAD_RESPONSE = "bad_response"  # the server's answer is not JSON / not a stream
    CONTEXT_LENGTH = "context_length"  # prompt too long for the model
    CREW_ERROR = "crew_error"  # anything else raised inside CrewAI
    CREW_CONFIG = "crew_config"  # unknown crew, broken YAML, bad placeholders
    MODEL_CONFIG = "model_config"  # the model settings cannot build an LLM
    DEADLINE = "deadline"  # the run's total time budget ran out
    ATTACHMENT = "attachment"  # an attached file is gone, too big, or the model refused it
    WORKER_DIED = "worker_died"  # synthesised by the client: the process ended


class StepName(StrEnum):
    """The CrewAI events reported as ``step`` events (``event`` field)."""

    CREW_STARTED = "crew_started"
    CREW_COMPLETED = "crew_completed"
    CREW_FAILED = "crew_failed"
    TASK_STARTED = "task_started"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    AGENT_STARTED = "agent_started"
    AGENT_COMPLETED = "agent_completed"
    AGENT_ERROR = "agent_error"
    TOOL_STARTED = "tool_started"
    TOOL_FINISHED = "tool_finished"
    TOOL_ERROR = "tool_error"
    LLM_STARTED = "llm_started"
    LLM_COMPLETED = "llm_completed"
    LLM_FAILED = "llm_failed"
    TOOL_CALL = "tool_call"  # chatdesk's own record of one call: arguments, result, approval
    ATTACHMENTS_SENT = "attachments_sent"  # what the model got of the question's images
    DOCUMENTS_USED = "documents_used"  # the attached documents' places the model was shown


# ---------------------------------------------------------------------------
# Shared value types
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatMessage:
    """One prior message of the thread, as the crew sees it."""

    role: Literal["user", "assistant", "system"]
    content: str


@dataclass(frozen=True)
class ModelConfig:
    """Everything the worker needs to build the LLM for one run.

    ``model`` is a CrewAI model string (``openai/gpt-4o-mini``, ``ollama/llama3.2``) or
    ``scripted`` / ``scripted/<label>`` for :mod:`chatdesk.engine.scripted_llm`, whose
    replies come from ``script`` (a list of strings or reply objects, see that module).
    ``max_retries`` bounds the HTTP client's own retries; CrewAI's task-level and
    rate-limit retries are switched off by the worker so a failure costs at most
    ``max_retries + 1`` requests.

    ``temperature``, ``top_p``, ``max_tokens`` and ``reasoning_effort`` are the chat's
    model settings (None: the provider's default, nothing sent), checked against
    :mod:`chatdesk.model_params` when made, so a hostile value never reaches a provider;
    the worker sends each only to a model that takes it.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # never logged
    timeout_s: float = 60.0
    max_tokens: int | None = None
    temperature: float | None = None
    max_retries: int = 1
    script: tuple[Any, ...] | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None

    def __post_init__(self) -> None:
        try:
            _ = self.params
        except ModelParamError as error:
            raise ProtocolError(f"model config: {error}") from None

    @property
    def params(self) -> ModelParams:
        """The model settings this config carries (checked)."""
        return ModelParams(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            reasoning_effort=self.reasoning_effort,
        )

    @property
    def is_scripted(self) -> bool:
        return self.model == "scripted" or self.model.startswith("scripted/")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["script"] = list(self.script) if self.script is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        d = _expect_mapping(data, "model config")
        model = _req_str(d, "model", "model config")
        if not model.strip():
            raise ProtocolError("model config: 'model' must not be empty")
        timeout_s = _opt_number(d, "timeout_s", "model config")
        max_retries = _opt_int(d, "max_retries", "model config")
        script = d.get("script")
        if script is not None and not isinstance(script, list | tuple):
            raise ProtocolError("model config: 'script' must be a list")
        cfg = cls(
            model=model,
            base_url=_opt_str(d, "base_url", "model config"),
            api_key=_opt_str(d, "api_key", "model config"),
            timeout_s=60.0 if timeout_s is None else timeout_s,
            max_tokens=_opt_int(d, "max_tokens", "model config"),
            temperature=_opt_number(d, "temperature", "model config"),
            max_retries=1 if max_retries is None else max_retries,
            script=tuple(script) if script is not None else None,
            top_p=_opt_number(d, "top_p", "model config"),
            reasoning_effort=_opt_str(d, "reasoning_effort", "model config"),
        )
        if cfg.timeout_s <= 0:
            raise ProtocolError("model config: 'timeout_s' must be positive")
        if cfg.max_retries < 0:
            raise ProtocolError("model config: 'max_retries' must not be negative")
        return cfg


@dataclass(frozen=True)
class ToolServer:
    """One MCP server a run may use, secrets resolved (they travel like the API key,
    and the worker registers them for redaction)."""

    name: str
    transport: Literal["stdio", "http", "sse"] = "stdio"
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout_s: float = 60.0
    auto_approve: tuple[str, ...] = ()
    # Names in ``env``/``headers`` whose values are secrets (they were keyring or
    # environment references in mcp.json): masked wherever they would be shown.
    secret_keys: tuple[str, ...] = ()

    def session_spec(self) -> dict[str, Any]:
        """What :func:`chatdesk.engine.mcp_session.open_session` takes; equal specs
        mean the same running server can be reused."""
        return {
            "transport": self.transport,
            "command": self.command,
            "args": list(self.args),
            "env": dict(self.env),
            "cwd": self.cwd,
            "url": self.url,
            "headers": dict(self.headers),
        }

    def secrets(self) -> list[str]:
        keys = set(self.secret_keys)
        return [
            value
            for name, value in [*self.env.items(), *self.headers.items()]
            if name in keys or name.lower() in ("authorization", "proxy-authorization")
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.session_spec(),
            "timeout_s": self.timeout_s,
            "auto_approve": list(self.auto_approve),
            "secret_keys": list(self.secret_keys),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ToolServer:
        where = "tool server"
        d = _expect_mapping(data, where)
        name = _req_str(d, "name", where)
        if not name.strip() or "/" in name:
            raise ProtocolError(f"{where}: 'name' must be a non-empty name without '/'")
        transport = d.get("transport", "stdio")
        if transport not in ("stdio", "http", "sse"):
            raise ProtocolError(f"{where}: unknown transport {transport!r}")
        timeout_s = _opt_number(d, "timeout_s", where)
        server = cls(
            name=name,
            transport=transport,
            command=_opt_str(d, "command", where),
            args=_str_tuple(d, "args", where),
            env=_str_map(d, "env", where),
            cwd=_opt_str(d, "cwd", where),
            url=_opt_str(d, "url", where),
            headers=_str_map(d, "headers", where),
            timeout_s=60.0 if timeout_s is None else timeout_s,
            auto_approve=_str_tuple(d, "auto_approve", where),
            secret_keys=_str_tuple(d, "secret_keys", where),
        )
        if server.timeout_s <= 0:
            raise ProtocolError(f"{where}: 'timeout_s' must be positive")
        if transport == "stdio" and not (server.command or "").strip():
            raise ProtocolError(f"{where}: a stdio server needs a 'command'")
        if transport != "stdio" and not (server.url or "").strip():
            raise ProtocolError(f"{where}: a remote server needs a 'url'")
        return server


@dataclass(frozen=True)
class ToolAccess:
    """The tools a run may use: the enabled servers, what this chat switched off
    (``server`` or ``server/tool``) and what the person allowed for this chat
    (``server/tool``)."""

    servers: tuple[ToolServer, ...] = ()
    disabled: tuple[str, ...] = ()
    approved: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "servers": [server.to_dict() for server in self.servers],
            "disabled": list(self.disabled),
            "approved": list(self.approved),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ToolAccess:
        where = "tool access"
        d = _expect_mapping(data, where)
        servers_raw = d.get("servers", [])
        if not isinstance(servers_raw, list):
            raise ProtocolError(f"{where}: 'servers' must be a list")
        servers = tuple(ToolServer.from_dict(item) for item in servers_raw)
        if len({server.name for server in servers}) != len(servers):
            raise ProtocolError(f"{where}: server names must be unique")
        return cls(
            servers=servers,
            disabled=_str_tuple(d, "disabled", where),
            approved=_str_tuple(d, "approved", where),
        )


IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
VISION_CHOICES = ("auto", "images", "text")
"""How a model takes images: CrewAI's ``supports_multimodal()``, it sees them, it does not."""
MAX_RUN_IMAGES = 10
"""At most as many images as a message may carry (``services.attachment_types``)."""
MAX_IMAGE_NAME_CHARS = 255


@dataclass(frozen=True)
class ImageFile:
    """One image attached to the question: the stored copy the worker reads at run time."""

    path: str  # absolute path of the stored copy in the data dir
    mime_type: str  # one of IMAGE_MIME_TYPES
    name: str  # what the person called it (one line)
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ImageFile:
        where = "image"
        d = _expect_mapping(data, where)
        path = _req_str(d, "path", where)
        if not (PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute()):
            raise ProtocolError(f"{where}: 'path' must be an absolute path")
        if "\0" in path:
            raise ProtocolError(f"{where}: 'path' must not hold NUL")
        mime = _req_str(d, "mime_type", where)
        if mime not in IMAGE_MIME_TYPES:
            raise ProtocolError(f"{where}: {mime[:40]!r} is not an image type chatdesk sends")
        name = _req_str(d, "name", where)
        if not name.strip() or len(name) > MAX_IMAGE_NAME_CHARS:
            raise ProtocolError(f"{where}: 'name' must be 1 to {MAX_IMAGE_NAME_CHARS} characters")
        if any(ch < " " or ch == "\x7f" for ch in name):
            raise ProtocolError(f"{where}: 'name' must be one line without control characters")
        size = _opt_int(d, "size_bytes", where)
        if size is None or size < 0:
            raise ProtocolError(f"{where}: 'size_bytes' must be a non-negative integer")
        return cls(path=path, mime_type=mime, name=name, size_bytes=size)


@dataclass(frozen=True)
class RunImages:
    """The question's images and how this run's model takes them.

    ``vision`` is one of :data:`VISION_CHOICES` (the person's setting for the model);
    ``max_bytes`` is the per-image limit the worker enforces again when it reads.
    """

    files: tuple[ImageFile, ...] = ()
    vision: str = "auto"
    max_bytes: int = 20_000_000

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [image.to_dict() for image in self.files],
            "vision": self.vision,
            "max_bytes": self.max_bytes,
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunImages:
        where = "images"
        d = _expect_mapping(data, where)
        files_raw = d.get("files", [])
        if not isinstance(files_raw, list):
            raise ProtocolError(f"{where}: 'files' must be a list")
        if len(files_raw) > MAX_RUN_IMAGES:
            raise ProtocolError(f"{where}: at most {MAX_RUN_IMAGES} images")
        vision = d.get("vision", "auto")
        if vision not in VISION_CHOICES:
            raise ProtocolError(f"{where}: 'vision' must be one of {', '.join(VISION_CHOICES)}")
        max_bytes = _opt_int(d, "max_bytes", where)
        if max_bytes is not None and max_bytes <= 0:
            raise ProtocolError(f"{where}: 'max_bytes' must be positive")
        return cls(
            files=tuple(ImageFile.from_dict(item) for item in files_raw),
            vision=vision,
            max_bytes=20_000_000 if max_bytes is None else max_bytes,
        )


# ---------------------------------------------------------------------------
# Requests (GUI -> worker)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """Start a crew run. ``history`` is the thread before ``message`` (oldest first).

    ``documents`` is what the model is told of the documents attached to ``message``:
    passages, each under its citation mark (``[report.pdf, page 4]``), built GUI-side
    (``runs/run_documents.py``); empty when there are none.
    """

    TYPE: ClassVar[str] = "run"
    run_id: str
    crew: str
    message: str
    model: ModelConfig
    history: tuple[ChatMessage, ...] = ()
    system_prompt: str = ""
    deadline_s: float = 300.0
    history_budget_chars: int = 12_000
    tools: ToolAccess = ToolAccess()
    images: RunImages = RunImages()
    documents: str = ""


MAX_HISTORY_BUDGET_CHARS = CONTEXT_TOKENS_RANGE[1] * CHARS_PER_TOKEN
"""The largest history budget a run may ask for (the largest context budget's)."""

MAX_DOCUMENTS_CHARS = 1_000_000
"""A ``documents`` text longer is refused: chatdesk builds a few tens of thousands."""


@dataclass(frozen=True)
class TitleRequest:
    """Ask the model for a short title of a chat from its first exchange: one small
    call beside the runs, answered by a :class:`TitleEvent` with the same id."""

    TYPE: ClassVar[str] = "title"
    request_id: str
    model: ModelConfig
    question: str
    answer: str


@dataclass(frozen=True)
class ApprovalReply:
    """The person's answer to an :class:`ApprovalEvent` (``decision``: an
    :class:`ApprovalDecision` value)."""

    TYPE: ClassVar[str] = "approval_reply"
    run_id: str
    call_id: str
    decision: str


@dataclass(frozen=True)
class WarmToolsRequest:
    """Start these MCP servers now, in the background, so the first run finds them
    running (sent when the worker is ready; errors wait for a run to report them)."""

    TYPE: ClassVar[str] = "warm_tools"
    tools: ToolAccess = ToolAccess()


@dataclass(frozen=True)
class CancelRequest:
    """Stop a run: the worker answers ``cancelled`` and stops using the model."""

    TYPE: ClassVar[str] = "cancel"
    run_id: str


@dataclass(frozen=True)
class PingRequest:
    """Liveness probe; answered with ``pong`` carrying the same ``nonce``."""

    TYPE: ClassVar[str] = "ping"
    nonce: int = 0


@dataclass(frozen=True)
class ShutdownRequest:
    """Cancel everything and exit."""

    TYPE: ClassVar[str] = "shutdown"


Request: TypeAlias = (
    RunRequest
    | TitleRequest
    | ApprovalReply
    | WarmToolsRequest
    | CancelRequest
    | PingRequest
    | ShutdownRequest
)


# ---------------------------------------------------------------------------
# Events (worker -> GUI)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadyEvent:
    """The worker imported CrewAI and accepts runs."""

    TYPE: ClassVar[str] = "ready"
    crewai_version: str
    pid: int
    startup_s: float
    protocol: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class ToolsEvent:
    """The tools the worker's MCP servers offer (after a warm-up), or why one has none:
    the GUI lists them where a chat switches tools on and off."""

    TYPE: ClassVar[str] = "tools"
    servers: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PongEvent:
    TYPE: ClassVar[str] = "pong"
    nonce: int = 0


@dataclass(frozen=True)
class TitleEvent:
    """The model's title for a :class:`TitleRequest` (``title`` as it wrote it), or why
    there is none (``error``)."""

    TYPE: ClassVar[str] = "title"
    request_id: str
    title: str = ""
    error: str = ""


@dataclass(frozen=True)
class StatusEvent:
    """The run started (``status`` is ``running``)."""

    TYPE: ClassVar[str] = "status"
    run_id: str
    seq: int
    status: Literal["running"] = "running"
    crew: str = ""
    model: str = ""


@dataclass(frozen=True)
class ChunkEvent:
    """A text delta of the visible answer (the ReAct wrapper is already removed)."""

    TYPE: ClassVar[str] = "chunk"
    run_id: str
    seq: int
    text: str


@dataclass(frozen=True)
class ResetEvent:
    """Discard the live text: a new LLM call (e.g. a retry) streams from the start."""

    TYPE: ClassVar[str] = "reset"
    run_id: str
    seq: int


@dataclass(frozen=True)
class StepEvent:
    """One CrewAI event of interest, for the execution log.

    ``timestamp`` is CrewAI's (ISO 8601, UTC); ``emission_seq`` is CrewAI's own per-run
    emission order (its handlers may run slightly out of order, ``seq`` is the order
    the worker wrote them). ``detail`` is small JSON (texts are truncated).
    """

    TYPE: ClassVar[str] = "step"
    run_id: str
    seq: int
    event: str
    timestamp: str
    agent_role: str | None = None
    task_name: str | None = None
    tokens: dict[str, int] | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    emission_seq: int | None = None


@dataclass(frozen=True)
class ApprovalEvent:
    """A tool call waits for the person: Allow once, Allow for this chat, or Deny.

    ``arguments`` are the call's (redacted) arguments; the run is paused until an
    :class:`ApprovalReply` with the same ``call_id`` arrives or the run ends.
    """

    TYPE: ClassVar[str] = "approval"
    run_id: str
    seq: int
    call_id: str
    server: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class CompletedEvent:
    TYPE: ClassVar[str] = "completed"
    run_id: str
    seq: int
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class FailedEvent:
    """The run failed; ``error`` is for people, ``kind`` (an :class:`ErrorKind`) for code."""

    TYPE: ClassVar[str] = "failed"
    run_id: str
    seq: int
    error: str
    kind: str = ErrorKind.CREW_ERROR.value
    detail: str = ""  # the technical message (exception type and text), for logs


@dataclass(frozen=True)
class CancelledEvent:
    TYPE: ClassVar[str] = "cancelled"
    run_id: str
    seq: int


Event: TypeAlias = (
    ReadyEvent
    | PongEvent
    | ToolsEvent
    | TitleEvent
    | StatusEvent
    | ChunkEvent
    | ResetEvent
    | StepEvent
    | ApprovalEvent
    | CompletedEvent
    | FailedEvent
    | CancelledEvent
)
RunEvent: TypeAlias = (
    StatusEvent
    | ChunkEvent
    | ResetEvent
    | StepEvent
    | ApprovalEvent
    | CompletedEvent
    | FailedEvent
    | CancelledEvent
)
TerminalEvent: TypeAlias = CompletedEvent | FailedEvent | CancelledEvent
TERMINAL_TYPES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})

_REQUEST_TYPES: dict[str, type[Any]] = {
    c.TYPE: c
    for c in (
        RunRequest,
        TitleRequest,
        ApprovalReply,
        WarmToolsRequest,
        CancelRequest,
        PingRequest,
        ShutdownRequest,
    )
}
_EVENT_TYPES: dict[str, type[Any]] = {
    c.TYPE: c
    for c in (
        ReadyEvent,
        PongEvent,
        ToolsEvent,
        TitleEvent,
        StatusEvent,
        ChunkEvent,
        ResetEvent,
        StepEvent,
        ApprovalEvent,
        CompletedEvent,
        FailedEvent,
        CancelledEvent,
    )
}


def is_terminal(event: Event) -> bool:
    """Whether ``event`` ends its run (completed, failed or cancelled)."""
    return isinstance(event, CompletedEvent | FailedEvent | CancelledEvent)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def to_dict(message: Request | Event) -> dict[str, Any]:
    """The JSON object for a message (``type`` first)."""
    data: dict[str, Any] = {"type": message.TYPE}
    for f in fields(message):
        value = getattr(message, f.name)
        if isinstance(value, ModelConfig | ToolAccess | RunImages):
            value = value.to_dict()
        elif f.name == "history":
            value = [{"role": m.role, "content": m.content} for m in value]
        data[f.name] = value
    return data


def encode(message: Request | Event) -> bytes:
    """One protocol line: compact JSON, UTF-8, terminated by ``\\n``.

    ``ensure_ascii`` keeps the line free of raw U+2028 and friends, so nothing between
    the processes can split it.
    """
    return (json.dumps(to_dict(message), ensure_ascii=True, separators=(",", ":")) + "\n").encode(
        "ascii"
    )


# ---------------------------------------------------------------------------
# Decoding with validation
# ---------------------------------------------------------------------------


def _loads(line: bytes | str) -> dict[str, Any]:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"not UTF-8: {exc}") from exc
    line = line.strip()
    if not line:
        raise ProtocolError("empty line")
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("a message must be a JSON object")
    if not isinstance(data.get("type"), str):
        raise ProtocolError("a message needs a string 'type'")
    return data


def decode_request(line: bytes | str) -> Request:
    """Parse and validate one request line."""
    data = _loads(line)
    kind = data["type"]
    if kind not in _REQUEST_TYPES:
        raise ProtocolError(f"unknown request type {kind!r}")
    where = f"{kind} request"
    if kind == "run":
        history_raw = data.get("history", [])
        if not isinstance(history_raw, list):
            raise ProtocolError(f"{where}: 'history' must be a list")
        history = tuple(_chat_message(m, where) for m in history_raw)
        deadline = _opt_number(data, "deadline_s", where)
        budget = _opt_int(data, "history_budget_chars", where)
        request = RunRequest(
            run_id=_run_id(data, where),
            crew=_req_str(data, "crew", where),
            message=_req_str(data, "message", where),
            model=ModelConfig.from_dict(data.get("model")),
            history=history,
            system_prompt=_opt_str(data, "system_prompt", where) or "",
            deadline_s=300.0 if deadline is None else deadline,
            history_budget_chars=12_000 if budget is None else budget,
            tools=ToolAccess.from_dict(data["tools"]) if data.get("tools") else ToolAccess(),
            images=RunImages.from_dict(data["images"]) if data.get("images") else RunImages(),
            documents=_opt_str(data, "documents", where) or "",
        )
        if len(request.documents) > MAX_DOCUMENTS_CHARS:
            raise ProtocolError(f"{where}: 'documents' is over {MAX_DOCUMENTS_CHARS:,} characters")
        if request.deadline_s <= 0:
            raise ProtocolError(f"{where}: 'deadline_s' must be positive")
        if not 0 <= request.history_budget_chars <= MAX_HISTORY_BUDGET_CHARS:
            raise ProtocolError(
                f"{where}: 'history_budget_chars' must be 0 to {MAX_HISTORY_BUDGET_CHARS:,}"
            )
        return request
    if kind == "title":
        return TitleRequest(
            request_id=_request_id(data, where),
            model=ModelConfig.from_dict(data.get("model")),
            question=_req_str(data, "question", where),
            answer=_req_str(data, "answer", where),
        )
    if kind == "approval_reply":
        decision = _req_str(data, "decision", where)
        if decision not in ApprovalDecision._value2member_map_:
            raise ProtocolError(f"{where}: unknown decision {decision!r}")
        return ApprovalReply(
            run_id=_run_id(data, where), call_id=_req_str(data, "call_id", where), decision=decision
        )
    if kind == "warm_tools":
        return WarmToolsRequest(
            tools=ToolAccess.from_dict(data["tools"]) if data.get("tools") else ToolAccess()
        )
    if kind == "cancel":
        return CancelRequest(run_id=_run_id(data, where))
    if kind == "ping":
        return PingRequest(nonce=_opt_int(data, "nonce", where) or 0)
    return ShutdownRequest()


def decode_event(line: bytes | str) -> Event:
    """Parse and validate one event line."""
    data = _loads(line)
    kind = data["type"]
    cls = _EVENT_TYPES.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown event type {kind!r}")
    where = f"{kind} event"
    if kind == "ready":
        return ReadyEvent(
            crewai_version=_req_str(data, "crewai_version", where),
            pid=_opt_int(data, "pid", where) or 0,
            startup_s=_opt_number(data, "startup_s", where) or 0.0,
            protocol=_opt_int(data, "protocol", where) or PROTOCOL_VERSION,
        )
    if kind == "pong":
        return PongEvent(nonce=_opt_int(data, "nonce", where) or 0)
    if kind == "tools":
        servers = data.get("servers", {})
        if not isinstance(servers, dict) or not all(
            isinstance(name, str)
            and isinstance(tools, list)
            and all(isinstance(tool, str) for tool in tools)
            for name, tools in servers.items()
        ):
            raise ProtocolError(f"{where}: 'servers' must map names to lists of tool names")
        return ToolsEvent(servers=servers, errors=_str_map(data, "errors", where))
    if kind == "title":
        return TitleEvent(
            request_id=_request_id(data, where),
            title=_opt_str(data, "title", where) or "",
            error=_opt_str(data, "error", where) or "",
        )
    run_id = _run_id(data, where)
    seq = _opt_int(data, "seq", where)
    if seq is None or seq < 0:
        raise ProtocolError(f"{where}: 'seq' must be a non-negative integer")
    if kind == "status":
        status = data.get("status", "running")
        if status != "running":
            raise ProtocolError(f"{where}: unknown status {status!r}")
        return StatusEvent(
            run_id=run_id,
            seq=seq,
            crew=_opt_str(data, "crew", where) or "",
            model=_opt_str(data, "model", where) or "",
        )
    if kind == "chunk":
        return ChunkEvent(run_id=run_id, seq=seq, text=_req_str(data, "text", where))
    if kind == "reset":
        return ResetEvent(run_id=run_id, seq=seq)
    if kind == "step":
        tokens = data.get("tokens")
        if tokens is not None and not (
            isinstance(tokens, dict)
            and all(isinstance(k, str) and _is_int(v) for k, v in tokens.items())
        ):
            raise ProtocolError(f"{where}: 'tokens' must map names to integers")
        detail = data.get("detail", {})
        if not isinstance(detail, dict):
            raise ProtocolError(f"{where}: 'detail' must be an object")
        return StepEvent(
            run_id=run_id,
            seq=seq,
            event=_req_str(data, "event", where),
            timestamp=_req_str(data, "timestamp", where),
            agent_role=_opt_str(data, "agent_role", where),
            task_name=_opt_str(data, "task_name", where),
            tokens=tokens,
            detail=detail,
            emission_seq=_opt_int(data, "emission_seq", where),
        )
    if kind == "approval":
        arguments = data.get("arguments", {})
        if not isinstance(arguments, dict):
            raise ProtocolError(f"{where}: 'arguments' must be an object")
        return ApprovalEvent(
            run_id=run_id,
            seq=seq,
            call_id=_req_str(data, "call_id", where),
            server=_req_str(data, "server", where),
            tool=_req_str(data, "tool", where),
            arguments=arguments,
            description=_opt_str(data, "description", where) or "",
        )
    if kind == "completed":
        return CompletedEvent(
            run_id=run_id,
            seq=seq,
            text=_req_str(data, "text", where),
            model=_opt_str(data, "model", where) or "",
            prompt_tokens=_opt_int(data, "prompt_tokens", where) or 0,
            completion_tokens=_opt_int(data, "completion_tokens", where) or 0,
            total_tokens=_opt_int(data, "total_tokens", where) or 0,
        )
    if kind == "failed":
        kind_code = _opt_str(data, "kind", where) or ErrorKind.CREW_ERROR.value
        if kind_code not in ErrorKind._value2member_map_:
            raise ProtocolError(f"{where}: unknown error kind {kind_code!r}")
        return FailedEvent(
            run_id=run_id,
            seq=seq,
            error=_req_str(data, "error", where),
            kind=kind_code,
            detail=_opt_str(data, "detail", where) or "",
        )
    return CancelledEvent(run_id=run_id, seq=seq)


# -- field helpers ----------------------------------------------------------


def _expect_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{where}: expected an object")
    return value


def _req_str(d: Mapping[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{where}: {key!r} must be a string")
    return value


def _opt_str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f"{where}: {key!r} must be a string or null")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt_int(d: Mapping[str, Any], key: str, where: str) -> int | None:
    value = d.get(key)
    if value is not None and not _is_int(value):
        raise ProtocolError(f"{where}: {key!r} must be an integer or null")
    return value


def _opt_number(d: Mapping[str, Any], key: str, where: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"{where}: {key!r} must be a finite number or null")
    return float(value)


def _str_tuple(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = d.get(key)
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def _str_map(d: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ProtocolError(f"{where}: {key!r} must map names to strings")
    return dict(value)


def _run_id(d: Mapping[str, Any], where: str) -> str:
    value = _req_str(d, "run_id", where)
    if not value:
        raise ProtocolError(f"{where}: 'run_id' must not be empty")
    return value


def _request_id(d: Mapping[str, Any], where: str) -> str:
    value = _req_str(d, "request_id", where)
    if not value:
        raise ProtocolError(f"{where}: 'request_id' must not be empty")
    return value


def _chat_message(value: Any, where: str) -> ChatMessage:
    d = _expect_mapping(value, f"{where} history item")
    role = d.get("role")
    if role not in ("user", "assistant", "system"):
        raise ProtocolError(f"{where}: history role must be user, assistant or system")
    return ChatMessage(role=role, content=_req_str(d, "content", f"{where} history item"))
