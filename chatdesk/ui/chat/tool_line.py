"""The few words a reply's bubble says about the tools its run used.

``Used add (7 ms), echo (refused) · 14:05``: read from the reply's ``tools`` metadata
(kept by the services when the run ended), so painting never reads the run's steps.
Plain text: tool names are the server's, and never rendered as rich text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SHOWN_CALLS = 3
NAME_CHARS = 40


def tool_calls_of(metadata: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = metadata.get("tools")
    if not isinstance(calls, list):
        return []
    return [call for call in calls if isinstance(call, Mapping)]


def _took(call: Mapping[str, Any]) -> str:
    if call.get("approval") == "denied":
        return "refused"
    if call.get("approval") == "stopped":
        return "stopped"
    if call.get("failed"):
        return "failed"
    ms = call.get("duration_ms")
    if not isinstance(ms, int) or isinstance(ms, bool):
        return ""
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def tool_summary(metadata: Mapping[str, Any]) -> str:
    """``Used add (7 ms), echo (refused)``; empty when the run used no tool."""
    calls = tool_calls_of(metadata)
    if not calls:
        return ""
    parts = []
    for call in calls[:SHOWN_CALLS]:
        name = " ".join(str(call.get("tool") or "?").split())[:NAME_CHARS]
        took = _took(call)
        parts.append(f"{name} ({took})" if took else name)
    more = len(calls) - SHOWN_CALLS
    text = "Used " + ", ".join(parts)
    return text + (f" and {more} more" if more > 0 else "")
