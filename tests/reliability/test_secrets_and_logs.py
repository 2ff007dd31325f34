"""API keys never reach the disk, and logs are private and rotated."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from chatdesk.logs import configure_logging
from chatdesk.redact import (
    MASK,
    RedactingFilter,
    StreamRedactor,
    redact,
    redact_data,
    redact_known,
    register_secret,
    register_url,
    url_secrets,
)
from chatdesk.testkit.fake_openai import reply, running_server

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-chatdesk-test-0123456789-SECRET"


def test_with_debug_logging_a_chat_leaves_no_byte_of_the_key_on_disk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server([reply("Thought: ok\nFinal Answer: All good.")]) as server:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "CHATDESK_LLM_MODEL": "openai/fake-model",
            "CHATDESK_LLM_BASE_URL": server.base_url,
            "CHATDESK_LLM_API_KEY": KEY,
            "HARNESS_DEBUG": "1",
            "HARNESS_REPLIES": "1",
        }
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.app_harness", str(data)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "finished 1 completed" in done.stdout, done.stdout + done.stderr[-3000:]
        assert server.chat_requests()[0].headers.get("Authorization") == f"Bearer {KEY}"
    log_text = (data / "logs" / "chatdesk.log").read_text()
    assert "DEBUG" in log_text and "[worker" in log_text  # the worker's debug lines came
    needles = (KEY.encode(), KEY[-12:].encode())
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for needle in needles:
                assert needle not in content, f"the key leaked into {path}"
    assert KEY not in done.stdout and KEY not in done.stderr


def test_redaction_masks_registered_and_key_shaped_secrets() -> None:
    register_secret("hunter2-very-secret")
    line = (
        "headers={'Authorization': 'Bearer abc.def.ghi', 'x-api-key': 'k-123456'} "
        "password hunter2-very-secret and sk-ABCDEFGHIJKLMNOP api_key=plainvalue"
    )
    cleaned = redact(line)
    for secret in (
        "abc.def.ghi",
        "k-123456",
        "hunter2-very-secret",
        "ABCDEFGHIJKLMNOP",
        "plainvalue",
    ):
        assert secret not in cleaned
    assert MASK in cleaned


def test_log_records_with_arguments_and_tracebacks_are_redacted() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sending %s", ("Bearer sk-zzzzzzzzzzzz",), None
    )
    try:
        raise RuntimeError("failed with api_key=sk-yyyyyyyyyyyy")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    assert "sk-zzzz" not in record.getMessage()
    assert record.exc_text is not None and "sk-yyyy" not in record.exc_text


def test_log_files_are_private(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    path = configure_logging(tmp_path, logging.INFO)
    try:
        logging.getLogger("chatdesk.test").info("hello")
        for handler in root.handlers:
            handler.flush()
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
            handler.close()


def test_a_key_split_across_streamed_chunks_is_still_masked() -> None:
    key = "streamed-secret-4c1d9e"
    register_secret(key)
    stream = StreamRedactor()
    text = "before " + key + " after"
    shown = "".join(stream.feed(text[i : i + 3]) for i in range(0, len(text), 3))
    assert key not in shown and shown == f"before {MASK} after"
    assert redact_known(f"code: api_key={key}") == f"code: api_key={MASK}"
    assert redact_known("Bearer example-token in a code sample") == (
        "Bearer example-token in a code sample"  # answers keep secret-shaped examples
    )


def test_keys_inside_base_urls_are_found_and_masked() -> None:
    assert url_secrets("https://me:pass-1234567@host/v1?api_key=query-7654321&x=1") == [
        "pass-1234567",
        "query-7654321",
    ]
    assert url_secrets("not a url") == [] and url_secrets(None) == []
    register_url("https://user:url-secret-998877@example.test/v1")
    assert "url-secret-998877" not in redact("failed at https://user:url-secret-998877@x/")
    assert redact_data({"detail": ["x url-secret-998877"]}) == {"detail": [f"x {MASK}"]}
