"""What the worker says about a run passes redaction before it leaves the process.

Why here: the outbox is the one door every run event goes through, so nothing a
provider or a crew produced (an error quoting the key, a step holding the request, a
reply echoing it) reaches the GUI, and from there the database, unredacted. Errors and
step details get every mask; reply text only loses the known secrets, so code examples
with ``Bearer`` or ``api_key=`` in a model's answer stay as written.
"""

from __future__ import annotations

from dataclasses import replace

from chatdesk.engine.protocol import (
    ApprovalEvent,
    ChunkEvent,
    CompletedEvent,
    FailedEvent,
    RunEvent,
    StepEvent,
)
from chatdesk.redact import redact, redact_data, redact_known


def redact_event(event: RunEvent) -> RunEvent:
    """``event`` with the secrets in its provider- or crew-made texts masked."""
    if isinstance(event, ChunkEvent):
        return replace(event, text=redact_known(event.text))
    if isinstance(event, CompletedEvent):
        return replace(event, text=redact_known(event.text))
    if isinstance(event, FailedEvent):
        return replace(event, error=redact(event.error), detail=redact(event.detail))
    if isinstance(event, StepEvent):
        return replace(
            event,
            agent_role=_optional(event.agent_role),
            task_name=_optional(event.task_name),
            detail=redact_data(event.detail),
        )
    if isinstance(event, ApprovalEvent):
        return replace(
            event,
            arguments=redact_data(event.arguments),
            description=redact(event.description),
        )
    return event


def _optional(text: str | None) -> str | None:
    return redact(text) if text else text
