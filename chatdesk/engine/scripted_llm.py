"""``ScriptedLLM``: a CrewAI model whose replies come from a script.

Why: tests and demos should run real CrewAI (agents, tasks, events, parsing) with
only the model replaced. This model streams its replies through BaseLLM's
``_emit_*`` helpers, so the worker sees exactly the events a real provider emits
(LLM call started → stream chunks → completed / failed), and it wraps plain
replies in the ReAct form real models write (``Thought: … Final Answer: …``), so the
answer-extraction path is exercised too: a script ``["Hello"]`` yields the final
answer ``Hello``.

Selected by the model string ``scripted`` or ``scripted/<label>``; the script format
is documented in :mod:`chatdesk.engine.scripting`. Worker-side only (imports CrewAI).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from crewai.events.types.llm_events import LLMCallType
from crewai.llms.base_llm import BaseLLM, llm_call_context
from pydantic import PrivateAttr

from chatdesk.engine.scripting import (
    ScriptedModelError,
    ScriptedReply,
    parse_script,
    scripted_error,
)

REACT_PREFIX = "Thought: I now can give a great answer\nFinal Answer: "


class ScriptedCallCancelled(RuntimeError):
    """The run was cancelled while the scripted model was 'generating'."""


class ScriptedLLM(BaseLLM):
    """Replies from ``script`` (parsed with :func:`parse_script`), one per call.

    ``cancel_event``, when set, interrupts a slow reply at once (the worker sets it
    on cancel), like closing the HTTP stream of a real provider.
    """

    llm_type: str = "scripted"
    script: list[ScriptedReply]
    cancel_event: threading.Event | None = None

    _next: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def from_config(
        cls,
        model: str,
        script: Any,
        *,
        cancel_event: threading.Event | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ScriptedLLM:
        return cls(
            model=model,
            provider="scripted",
            script=parse_script(script),
            cancel_event=cancel_event,
            temperature=temperature,
            max_tokens=max_tokens,
            stream=True,
        )

    # -- BaseLLM interface -------------------------------------------------

    def call(
        self,
        messages: Any,
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any | None = None,
        from_agent: Any | None = None,
        response_model: Any | None = None,
    ) -> str:
        with llm_call_context():
            self._emit_call_started_event(
                messages=messages,
                tools=tools,
                callbacks=callbacks,
                available_functions=available_functions,
                from_task=from_task,
                from_agent=from_agent,
            )
            reply = self._take_reply()
            if reply.tool_calls and tools:
                return self._ask_for_tools(reply, messages, from_task, from_agent)  # type: ignore[return-value]
            try:
                text = self._generate(reply, messages, from_task, from_agent)
            except Exception as exc:
                self._emit_call_failed_event(
                    error=f"Scripted model call failed: {exc}",
                    from_task=from_task,
                    from_agent=from_agent,
                )
                raise
            usage = self._usage(messages, text)
            self._track_token_usage_internal(usage)
            self._emit_call_completed_event(
                response=text,
                call_type=LLMCallType.LLM_CALL,
                from_task=from_task,
                from_agent=from_agent,
                messages=messages,
                usage=usage,
                finish_reason="stop",
            )
            return text

    async def acall(
        self,
        messages: Any,
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any | None = None,
        from_agent: Any | None = None,
        response_model: Any | None = None,
    ) -> str:
        return await asyncio.to_thread(
            self.call,
            messages,
            tools,
            callbacks,
            available_functions,
            from_task,
            from_agent,
            response_model,
        )

    def supports_function_calling(self) -> bool:
        return any(reply.tool_calls for reply in self.script)

    def get_context_window_size(self) -> int:
        # Large, so CrewAI never 'summarises' the prompt (that would spend a reply).
        return 1_000_000

    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        return _estimate_tokens(messages)

    # -- internals ---------------------------------------------------------

    def _take_reply(self) -> ScriptedReply:
        with self._lock:
            index = self._next
            self._next += 1
        if index >= len(self.script):
            raise ScriptedModelError(
                "crew_error",
                f"The scripted model has no reply left (its script has {len(self.script)})",
            )
        reply: ScriptedReply = self.script[index]
        return reply

    def _ask_for_tools(
        self, reply: ScriptedReply, messages: Any, from_task: Any, from_agent: Any
    ) -> list[dict[str, Any]]:
        """Native function calling: the tool calls an OpenAI-style API returns."""
        self._pause(reply.start_delay_s)
        with self._lock:
            first = self._next * 100
        calls = [
            {
                "id": f"call_{first + number}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for number, call in enumerate(reply.tool_calls)
        ]
        usage = self._usage(messages, json.dumps(calls))
        self._track_token_usage_internal(usage)
        self._emit_call_completed_event(
            response=calls,
            call_type=LLMCallType.TOOL_CALL,
            from_task=from_task,
            from_agent=from_agent,
            messages=messages,
            usage=usage,
            finish_reason="tool_calls",
        )
        return calls

    def _generate(
        self, reply: ScriptedReply, messages: Any, from_task: Any, from_agent: Any
    ) -> str:
        text = _prompt_text(messages) if reply.echo else reply.text
        native = self.supports_function_calling()
        if (
            text
            and not reply.raw
            and not native
            and "Final Answer:" not in text
            and "\nAction:" not in text
        ):
            text = REACT_PREFIX + text
        self._pause(reply.start_delay_s)
        size = reply.chunk_size
        # Chunks keep to a schedule (``delay_s`` apart from the first), like a provider
        # streaming at a steady rate: sleeping ``delay_s`` after each would add the
        # timer's slack and the emit's own cost to every gap.
        first = time.monotonic()
        for number, start in enumerate(range(0, len(text), size)):
            if number:
                self._pause(first + number * reply.delay_s - time.monotonic())
            self._emit_stream_chunk_event(
                chunk=text[start : start + size],
                from_task=from_task,
                from_agent=from_agent,
                call_type=LLMCallType.LLM_CALL,
            )
        if reply.error is not None:
            raise scripted_error(reply.error)
        return text

    def _pause(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        event = self.cancel_event
        if event is None:
            if seconds > 0:
                threading.Event().wait(seconds)
            return
        if event.wait(seconds) or event.is_set():
            raise ScriptedCallCancelled("The run was cancelled")

    @staticmethod
    def _usage(messages: Any, text: str) -> dict[str, int]:
        prompt = _estimate_tokens(messages)
        completion = max(1, (len(text) + 3) // 4) if text else 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


def _prompt_text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    return "\n\n".join(
        f"{m.get('role', '?')}: {m.get('content', '')}"
        for m in messages or []
        if isinstance(m, dict)
    )


def _estimate_tokens(messages: Any) -> int:
    """About four characters per token, like BaseLLM's fallback (without its warning)."""
    if isinstance(messages, str):
        chars = len(messages)
    else:
        chars = sum(len(str(m.get("content", ""))) for m in messages or [] if isinstance(m, dict))
    return (chars + 3) // 4
