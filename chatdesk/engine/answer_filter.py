"""Strip CrewAI's ReAct wrapper from streamed text so the live bubble shows only the answer.

Why: streamed chunks carry what the model really writes, ``Thought: … Final Answer: …``,
while the crew's final output has the wrapper removed. Showing raw chunks and then the
final text makes the bubble jump. This filter sees one LLM call's deltas in order and
returns only the part that will become the answer:

* text starting ``Thought:`` is held back until ``Final Answer:`` appears, and what
  follows it is streamed; if an ``Action:`` appears instead (a tool call), nothing is;
* text starting ``Final Answer:`` loses the marker;
* anything else (a model that answers plainly) streams as it comes.

Pure Python, no CrewAI: one instance per LLM call.
"""

from __future__ import annotations

from typing import Literal

FINAL_ANSWER = "Final Answer:"
THOUGHT = "Thought:"
ACTION = "\nAction:"

_Mode = Literal["undecided", "thought", "answer", "plain", "action"]


class AnswerStreamFilter:
    """Feed raw deltas with :meth:`feed`; it returns the visible part of each."""

    def __init__(self) -> None:
        self._mode: _Mode = "undecided"
        self._buffer = ""
        self._answer_started = False

    @property
    def mode(self) -> str:
        return self._mode

    def feed(self, delta: str) -> str:
        if not delta:
            return ""
        if self._mode in ("answer", "plain"):
            return self._visible(delta)
        if self._mode == "action":
            return ""
        self._buffer += delta
        if self._mode == "undecided":
            head = self._buffer.lstrip()
            if not head:
                return ""
            if head.startswith(FINAL_ANSWER):
                self._mode = "answer"
                rest = head[len(FINAL_ANSWER) :]
                self._buffer = ""
                return self._visible(rest)
            if head.startswith(THOUGHT):
                self._mode = "thought"
            elif FINAL_ANSWER.startswith(head) or THOUGHT.startswith(head):
                return ""  # could still become a marker: wait for more text
            else:
                self._mode = "plain"
                text, self._buffer = self._buffer, ""
                return self._visible(text)
        # thought mode: look for the answer marker (or a tool call) in what we have
        index = self._buffer.find(FINAL_ANSWER)
        if index >= 0:
            self._mode = "answer"
            rest = self._buffer[index + len(FINAL_ANSWER) :]
            self._buffer = ""
            return self._visible(rest)
        if ACTION in self._buffer:
            self._mode = "action"
            self._buffer = ""
            return ""
        # keep only a tail long enough to catch a marker split across deltas
        keep = max(len(FINAL_ANSWER), len(ACTION)) - 1
        self._buffer = self._buffer[-keep:]
        return ""

    def _visible(self, text: str) -> str:
        if not self._answer_started:
            text = text.lstrip()
            if not text:
                return ""
            self._answer_started = True
        return text
