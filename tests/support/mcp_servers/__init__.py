import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import die_with_parent

REPO = Path(__file__).resolve().parents[3]
BASIC_SERVER = [sys.executable, "-m", "tests.support.mcp_servers.basic_server"]


@contextlib.contextmanager
def running_http_server(transport: str = "http") -> Iterator[str]:
    """The basic server over streamable HTTP (or ``"sse"``) on 127.0.0.1; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [*BASIC_SERVER, f"--{transport}", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent(),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe, contextlib.suppress(OSError):
                probe.connect(("127.0.0.1", port))
                break
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/{'sse' if transport == 'sse' else 'mcp'}"
    finally:
        server.kill()
        server.wait()
