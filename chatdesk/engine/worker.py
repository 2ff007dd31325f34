"""The execution worker process: ``python -m chatdesk.engine.worker``.

Why a process: CrewAI costs seconds and ~180 MB to import, holds the GIL while it
works and cannot be stopped, so the GUI keeps it in a child process it can kill.
This module is the process's main: it prepares a quiet, contained environment
*before* CrewAI is imported (no telemetry, no tracing prompt, no version check, all
of CrewAI's files under the data dir), then speaks the JSON-lines protocol of
:mod:`chatdesk.engine.protocol`: requests on stdin, events on stdout, logs on stderr.

The real stdout is kept for the protocol only; file descriptor 1 is pointed at
stderr so anything CrewAI or a library prints cannot corrupt the event stream, and
stdin is replaced by ``/dev/null`` so nothing can wait for keyboard input.

Pings are answered by the stdin thread even while CrewAI is still importing, so the
GUI can tell a slow start from a hung process.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import queue
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

from chatdesk.engine.crewai_tuning import share_executor_state_class
from chatdesk.engine.outbox import Outbox
from chatdesk.engine.protocol import (
    ApprovalReply,
    CancelRequest,
    PingRequest,
    PongEvent,
    ProtocolError,
    ReadyEvent,
    Request,
    RunRequest,
    ShutdownRequest,
    TitleRequest,
    ToolAccess,
    WarmToolsRequest,
    decode_request,
)
from chatdesk.engine.tls import share_tls_contexts, warm_tls_context
from chatdesk.private_files import restrict_new_files
from chatdesk.redact import RedactingFilter, register_secret, register_url

log = logging.getLogger("chatdesk.engine.worker")


def data_dir_from_env() -> Path | None:
    value = os.environ.get("CHATDESK_DATA_DIR")
    return Path(value).expanduser().resolve() if value else None


def prepare_environment(data_dir: Path | None) -> Path:
    """Set what CrewAI reads at import; returns its storage directory.

    Must run before anything imports crewai. HOME and the XDG directories point into
    the storage directory for this process only, because CrewAI writes to
    ``~/.config/crewai``, ``~/.local/share/...`` and a credentials key at import.
    """
    if data_dir is not None:
        storage = data_dir / "crewai"
    else:
        storage = Path(tempfile.mkdtemp(prefix="chatdesk-crewai-"))
    storage = storage.resolve()
    home = storage / "home"
    tmp = storage / "tmp"  # CrewAI's lock files go to the temp dir
    for directory in (
        storage,
        home,
        home / ".config",
        home / ".local" / "share",
        home / ".cache",
        tmp,
    ):
        directory.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(tmp)
    os.environ.update(
        {
            "CREWAI_DISABLE_TELEMETRY": "true",
            "OTEL_SDK_DISABLED": "true",
            "CREWAI_TRACING_ENABLED": "false",
            "CREWAI_DISABLE_VERSION_CHECK": "true",
            "CREWAI_STORAGE_DIR": str(storage),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "TMPDIR": str(tmp),
            "PYTHONUNBUFFERED": "1",
            "TERM": "dumb",
            "NO_COLOR": "1",
        }
    )
    os.chdir(storage)  # whatever CrewAI drops in the cwd lands here
    return storage


def refuse_trace_consent() -> None:
    """Record 'no' to CrewAI's first-run tracing question (what ``crewai traces disable``
    does), so it is never asked."""
    try:
        from crewai_core.user_data import update_user_data

        update_user_data({"trace_consent": False, "first_execution_done": True})
    except Exception as exc:  # not fatal: CREWAI_TRACING_ENABLED=false still applies
        log.warning("could not record trace consent: %s", exc)


def take_over_stdio() -> tuple[BinaryIO, BinaryIO]:
    """The protocol streams (dups of the original stdin/stdout); then fd 0 reads
    ``/dev/null`` and fd 1 writes to stderr."""
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr
    return proto_in, proto_out


def _read_requests(
    stream: BinaryIO,
    requests: queue.Queue[Request | None],
    outbox: Outbox,
    ready: threading.Event,
) -> None:
    """Stdin thread: answer pings at once, queue the rest; None means stdin closed.

    Before the engine is ready there is nothing to clean up, so a shutdown (or the GUI
    going away) ends the process at once instead of after CrewAI's import.
    """
    for raw in iter(stream.readline, b""):
        if not raw.strip():
            continue
        try:
            request = decode_request(raw)
        except ProtocolError as exc:
            log.error("bad request line ignored: %s", exc)
            continue
        if isinstance(request, PingRequest):
            outbox.send(PongEvent(nonce=request.nonce))
        elif isinstance(request, ShutdownRequest) and not ready.is_set():
            os._exit(0)
        else:
            requests.put(request)
    if not ready.is_set():
        os._exit(0)
    requests.put(None)


def _register_tool_secrets(tools: ToolAccess) -> None:
    for server in tools.servers:
        for secret in server.secrets():
            register_secret(secret)
        register_url(server.url)


def main() -> int:
    started = time.monotonic()
    # The GUI decides when this process ends (shutdown request, stdin closing, or a
    # kill); a Ctrl+C meant for the GUI's terminal must not take runs down with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()  # a hard crash leaves a traceback in the GUI's worker log
    logging.basicConfig(
        level=os.environ.get("CHATDESK_WORKER_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())  # the openai SDK logs headers at DEBUG
    # Warns on every reply to a model without a native token counter (any local
    # server); the estimate it falls back to is fine, and the log would be nothing else.
    logging.getLogger("crewai.llms.base_llm").setLevel(logging.ERROR)
    restrict_new_files()  # CrewAI's storage is private, whoever started this process
    data_dir = data_dir_from_env()
    person_env = dict(os.environ)  # before CrewAI's HOME and friends replace it
    prepare_environment(data_dir)
    proto_in, proto_out = take_over_stdio()

    outbox = Outbox(proto_out)
    requests: queue.Queue[Request | None] = queue.Queue()
    ready = threading.Event()
    reader = threading.Thread(
        target=_read_requests,
        args=(proto_in, requests, outbox, ready),
        name="stdin",
        daemon=True,
    )
    reader.start()

    import crewai  # the expensive part: ~2.5 s

    refuse_trace_consent()
    from chatdesk.engine.runner import Engine

    share_tls_contexts()
    warm_tls_context()
    share_executor_state_class()

    engine = Engine(outbox, data_dir, server_env=person_env)
    ready.set()
    outbox.send(
        ReadyEvent(
            crewai_version=str(getattr(crewai, "__version__", "unknown")),
            pid=os.getpid(),
            startup_s=round(time.monotonic() - started, 3),
        )
    )

    while True:
        request = requests.get()
        if request is None or isinstance(request, ShutdownRequest):
            engine.close()
            break
        if isinstance(request, RunRequest):
            # The GUI knew these; the worker must too, before the run emits anything.
            register_secret(request.model.api_key)
            register_url(request.model.base_url)
            _register_tool_secrets(request.tools)
            engine.start(request)
        elif isinstance(request, TitleRequest):
            register_secret(request.model.api_key)
            register_url(request.model.base_url)
            engine.title(request)
        elif isinstance(request, WarmToolsRequest):
            _register_tool_secrets(request.tools)
            engine.warm(request.tools.servers)
        elif isinstance(request, ApprovalReply):
            engine.answer(request)
        elif isinstance(request, CancelRequest):
            engine.cancel(request.run_id)
    sys.stderr.flush()
    # Run threads may still sit in a blocking read; nothing they do matters now.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
