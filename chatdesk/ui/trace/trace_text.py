"""How a run's steps read as text: table cells, the detail pane, copied rows.

Kept free of Qt so the wording is plain functions a test can pin down. Everything here
returns plain text; step payloads are model output and never go through a rich-text
renderer.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chatdesk.services.records import ExecutionLogRecord, ExecutionRecord
from chatdesk.ui.time_format import full_time, local
from chatdesk.vocabulary import ACTIVE_EXECUTION_STATUSES, status_word

COLUMNS = ("Time", "Agent", "Task", "Event", "Tool", "Tokens")
SHOWN_ELSEWHERE = frozenset({"at", "tokens", "tool_name"})
TOOL_CALL_KEYS = frozenset(
    {"server", "tool", "arguments", "result", "result_chars", "error", "approval", "duration_ms"}
)
"""What a ``tool_call`` step's own section shows (the rest is listed as usual)."""
DOCUMENTS_KEYS = frozenset({"citations", "attachments", "chars", "budget_chars", "not_read"})
"""What a ``documents_used`` step's own section shows."""
APPROVAL_WORDS = {
    "auto": "ran without asking (built in, or the server's autoApprove)",
    "once": "you allowed it once",
    "chat": "allowed for this chat",
    "denied": "you refused it; it did not run",
    "stopped": "the run was stopped while it waited",
}
"""Detail keys that already have a column (and a line of their own in the detail pane)."""
ACRONYMS = {"llm": "LLM"}
EVENT_LABELS = {"attachments_sent": "Images to the model"}
"""Steps of chatdesk's own whose name does not read well word by word."""
SENT_AS_WORDS = {
    "image parts": "as images: the model saw them",
    "note": "as a note naming them: this model cannot see images",
}
ATTACHMENTS_KEYS = frozenset({"images", "sent_as"})
"""What an ``attachments_sent`` step's own section shows."""


def step_time(step: ExecutionLogRecord) -> datetime:
    """When the step happened: CrewAI's own timestamp, else when it was stored."""
    at = step.detail.get("at")
    if isinstance(at, str):
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            return step.created_at
        if moment.tzinfo is not None:
            return moment
    return step.created_at


def clock(moment: datetime) -> str:
    """14:05:03.123 in local time (steps come many a second)."""
    when = local(moment)
    return f"{when:%H:%M:%S}.{when.microsecond // 1000:03d}"


def event_label(event: str) -> str:
    """``llm_completed`` -> ``LLM completed``."""
    if event in EVENT_LABELS:
        return EVENT_LABELS[event]
    words = [w for w in event.split("_") if w]
    if not words:
        return event
    first = ACRONYMS.get(words[0].lower(), words[0].capitalize())
    rest = [ACRONYMS.get(w.lower(), w) for w in words[1:]]
    return " ".join([first, *rest])


def is_failure(event: str) -> bool:
    return event.endswith(("_failed", "_error"))


def one_line(text: str | None) -> str:
    """A table cell: line breaks and runs of blanks folded to single spaces."""
    return " ".join(text.split()) if text else ""


def step_tokens(step: ExecutionLogRecord) -> int | None:
    tokens = step.detail.get("tokens")
    if not isinstance(tokens, dict):
        return None
    total = tokens.get("total_tokens")
    if isinstance(total, int):
        return total
    parts = [tokens.get(k) for k in ("prompt_tokens", "completion_tokens")]
    counted = [p for p in parts if isinstance(p, int)]
    return sum(counted) if counted else None


def step_tool(step: ExecutionLogRecord) -> str:
    """The Tool column: ``server/tool`` for chatdesk's record of a call, else CrewAI's name."""
    server, tool = step.detail.get("server"), step.detail.get("tool")
    if isinstance(tool, str) and tool:
        return one_line(f"{server}/{tool}" if isinstance(server, str) and server else tool)
    if isinstance(server, str) and server:
        return one_line(server)
    name = step.detail.get("tool_name")
    return one_line(name) if isinstance(name, str) else ""


def duration_text(milliseconds: object) -> str:
    """``7 ms``, ``1.2 s``: how long a call took."""
    if not isinstance(milliseconds, int | float) or isinstance(milliseconds, bool):
        return "—"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds / 1000:.1f} s"


def _tool_call_lines(detail: dict[str, Any]) -> list[str]:
    approval = detail.get("approval")
    lines = [
        "",
        f"Approval: {APPROVAL_WORDS.get(str(approval), str(approval or '—'))}",
        f"Took:     {duration_text(detail.get('duration_ms'))}",
        "",
        "Arguments:",
        _block(detail.get("arguments")),
    ]
    error = detail.get("error")
    if isinstance(error, str) and error:
        lines += ["", "Error:", _block(error)]
    else:
        total = detail.get("result_chars")
        result = detail.get("result")
        size = f" ({total:,} characters)" if isinstance(total, int) else ""
        lines += ["", f"Result{size}:", _block(result)]
    return lines


def _attachments_lines(detail: dict[str, Any]) -> list[str]:
    sent_as = str(detail.get("sent_as") or "—")
    lines = ["", f"Sent:   {SENT_AS_WORDS.get(sent_as, sent_as)}", "", "Images:"]
    images = detail.get("images")
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict):
            size = image.get("bytes")
            bytes_text = f"{size:,} bytes" if isinstance(size, int) else "size unknown"
            name, mime = one_line(str(image.get("name"))), one_line(str(image.get("mime")))
            lines.append(f"    {name}  ·  {mime}  ·  {bytes_text}")
    if lines[-1] == "Images:":
        lines.append("    (none)")
    return lines


def _documents_lines(detail: dict[str, Any]) -> list[str]:
    """The attached documents' places the model was shown, one a line."""
    chars, budget = detail.get("chars"), detail.get("budget_chars")
    size = (
        f" ({chars:,} of {budget:,} characters)"
        if isinstance(chars, int) and isinstance(budget, int)
        else ""
    )
    lines = ["", f"Shown to the model{size}:"]
    citations = detail.get("citations")
    shown = [c for c in citations if isinstance(c, dict)] if isinstance(citations, list) else []
    for citation in shown:
        label = one_line(str(citation.get("label") or citation.get("name") or "?"))
        lines.append(f"    {label}")
    if not shown:
        lines.append("    (nothing)")
    not_read = detail.get("not_read")
    if isinstance(not_read, list) and not_read:
        lines += ["", "Not read:", *(f"    {one_line(str(note))}" for note in not_read)]
    return lines


def _block(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    if not text:
        return "    (empty)"
    return "\n".join(f"    {line}" for line in text.splitlines())


def step_cells(step: ExecutionLogRecord) -> tuple[str, str, str, str, str, str]:
    """The row of the steps table, one string per column of ``COLUMNS``."""
    tokens = step_tokens(step)
    return (
        clock(step_time(step)),
        one_line(step.agent_role),
        one_line(step.task_name),
        event_label(step.event),
        step_tool(step),
        f"{tokens:,}" if tokens is not None else "",
    )


def run_title(run: ExecutionRecord, steps: int, more: bool) -> str:
    """The header of a run's group: ``Run #12 · completed · 23 steps · 1,234 tokens``."""
    parts = [f"Run #{run.id}", status_word(run.status)]
    if steps:
        parts.append(f"{steps}{'+' if more else ''} step{'' if steps == 1 and not more else 's'}")
    elif run.status in ACTIVE_EXECUTION_STATUSES:
        parts.append("no steps yet")
    else:
        parts.append("no steps")
    if run.total_tokens:
        parts.append(f"{run.total_tokens:,} tokens")
    if run.started_at is not None:
        parts.append(f"started {clock(run.started_at)}")
    return "  ·  ".join(parts)


def describe_step(step: ExecutionLogRecord) -> str:
    """Everything a step recorded, for the detail pane (plain text)."""
    tokens = step.detail.get("tokens")
    lines = [
        f"Step {step.seq}  ·  {event_label(step.event)}  ({step.event})",
        "",
        f"Time:   {_full_clock(step_time(step))}",
        f"Agent:  {step.agent_role or '—'}",
        f"Task:   {_indented(step.task_name) if step.task_name else '—'}",
        f"Tool:   {step_tool(step) or '—'}",
        f"Tokens: {_tokens_text(tokens) if isinstance(tokens, dict) else '—'}",
    ]
    hidden = SHOWN_ELSEWHERE
    if step.event == "tool_call":
        lines += _tool_call_lines(step.detail)
        hidden = hidden | TOOL_CALL_KEYS
    elif step.event == "attachments_sent":
        lines += _attachments_lines(step.detail)
        hidden = hidden | ATTACHMENTS_KEYS
    elif step.event == "documents_used":
        lines += _documents_lines(step.detail)
        hidden = hidden | DOCUMENTS_KEYS
    rest = {k: v for k, v in step.detail.items() if k not in hidden}
    if rest:
        lines.append("")
        lines.extend(f"{key}: {_value_text(value)}" for key, value in rest.items())
    return "\n".join(lines)


def describe_run(run: ExecutionRecord) -> str:
    """A run's own fields, for the detail pane when its header row is selected."""
    lines = [
        f"Run #{run.id}  ·  {status_word(run.status)}",
        "",
        f"Crew:     {run.crew}",
        f"Model:    {run.model or 'default'}",
        f"Started:  {full_time(run.started_at)}",
        f"Finished: {full_time(run.finished_at)}",
    ]
    if run.total_tokens is not None:
        lines.append(
            f"Tokens:   {run.total_tokens:,} ({run.prompt_tokens or 0:,} in, "
            f"{run.completion_tokens or 0:,} out)"
        )
    if run.error:
        lines.append(f"Error:    {_indented(run.error)}")
    return "\n".join(lines)


def _full_clock(moment: datetime) -> str:
    return f"{full_time(moment)}.{local(moment).microsecond // 1000:03d}"


def _tokens_text(tokens: dict[str, Any]) -> str:
    names = (("prompt_tokens", "in"), ("completion_tokens", "out"), ("total_tokens", "total"))
    parts = [f"{tokens[k]:,} {label}" for k, label in names if isinstance(tokens.get(k), int)]
    return "  ·  ".join(parts) or "—"


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return _indented(value) if value else '""'
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    return _indented(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _indented(text: str) -> str:
    """Multi-line text starts on its own line, indented under its label."""
    if "\n" not in text:
        return text
    return "\n" + "\n".join(f"    {line}" for line in text.splitlines())
