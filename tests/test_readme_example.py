"""The README's pytest-qt example runs as written (extracted from the README itself)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_pytest_qt_example_passes(tmp_path: Path) -> None:
    text = README.read_text()
    section = text.split("## Testing chatdesk with pytest-qt", 1)[1]
    examples = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(examples) >= 2, "the README lost its example tests"
    for number, example in enumerate(examples):
        (tmp_path / f"test_example_{number}_from_readme.py").write_text(example)
    # A real model named in the shell is ignored without --chatdesk-real-model: this one
    # does not exist, so the test passes only if the scripted model answered.
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CHATDESK_LLM_MODEL": "openai/not-a-model",
        "CHATDESK_LLM_BASE_URL": "http://127.0.0.1:9/v1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"{len(examples)} passed" in done.stdout


def test_the_readme_names_every_role_of_every_model() -> None:
    from chatdesk.ui.chat.message_model import MessageRoles
    from chatdesk.ui.list_model import role_names
    from chatdesk.ui.search.search_model import SearchRoles
    from chatdesk.ui.threads.thread_model import ThreadRoles

    text = README.read_text()
    for roles in (MessageRoles, ThreadRoles, SearchRoles):
        for name in role_names(roles).values():
            assert f"`{bytes(name.data()).decode()}`" in text
