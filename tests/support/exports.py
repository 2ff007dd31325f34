"""Big chatdesk JSON exports written straight to a file (fast test data for imports)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def export_document(messages: int, title: str = "Big import") -> dict[str, Any]:
    """A valid export: questions that each ran an execution, and their replies."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    executions: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for n in range(messages):
        at = (start + timedelta(seconds=n)).isoformat()
        ref = n // 2 + 1
        if n % 2 == 0:
            executions.append(
                {"ref": ref, "crew": "assistant", "status": "completed", "created_at": at}
            )
        rows.append(
            {
                "role": "user" if n % 2 == 0 else "assistant",
                "content": f"message {n}: a line of text about imports",
                "status": "completed",
                "triggers_execution": n % 2 == 0,
                "execution": ref,
                "created_at": at,
            }
        )
    return {
        "format": "chatdesk-thread",
        "version": 1,
        "thread": {"title": title, "crew": "assistant"},
        "executions": executions,
        "messages": rows,
    }


def write_export(path: Path, messages: int, title: str = "Big import") -> Path:
    path.write_text(json.dumps(export_document(messages, title)), encoding="utf-8")
    return path
