"""What the model is asked for a chat's title, and what of its answer is kept.

Why a call of its own and not a crew: a title is one short answer, not a task; a crew
would add its prompt scaffolding (and its tokens) to something that should cost a few
dozen. The call is small (``TITLE_MAX_TOKENS``), bounded in time, tried once, and the
question and answer it sees are cut short. Pure Python, no CrewAI: the worker makes
the call (``runner.Engine.title``).
"""

from __future__ import annotations

import dataclasses
import re

from chatdesk.engine.protocol import ModelConfig

TITLE_MAX_TOKENS = 24
TITLE_TIMEOUT_S = 30.0
SHOWN_CHARS = 1_500
"""How much of the question and of the answer the model is shown."""
INSTRUCTION = (
    "Write a title for the conversation below: at most six words, in the language of "
    "the conversation, no quotes, no punctuation at the end. Reply with the title only."
)
_WRAPPING = re.compile(r'^[\s#*_>"\'`“”‘’«»\-]+|[\s*_"\'`“”‘’«».:;!\-]+$')
_LABEL = re.compile(r"^(?:title|titre|titel|título)\s*:\s*", re.IGNORECASE)


def title_model(model: ModelConfig) -> ModelConfig:
    """The run's model, made small and quick for a title: few tokens, a short timeout,
    no retries (a title is not worth waiting for)."""
    return dataclasses.replace(
        model,
        max_tokens=TITLE_MAX_TOKENS,
        timeout_s=min(model.timeout_s, TITLE_TIMEOUT_S),
        max_retries=0,
        temperature=0.2,
    )


def title_messages(question: str, answer: str) -> list[dict[str, str]]:
    """The chat messages of the title call."""
    return [
        {"role": "system", "content": INSTRUCTION},
        {
            "role": "user",
            "content": (
                f"Question:\n{_cut(question)}\n\nAnswer:\n{_cut(answer)}\n\n"
                "Title (six words at most):"
            ),
        },
    ]


def clean_title(text: str) -> str:
    """The title in a model's answer: its first line with words, without quotes, Markdown
    marks, a "Title:" label or a closing full stop; empty when there is none."""
    for line in text.splitlines():
        line = _LABEL.sub("", _WRAPPING.sub("", line.strip()))
        line = _WRAPPING.sub("", line)
        if any(ch.isalnum() for ch in line):
            return " ".join(line.split())
    return ""


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS].rstrip() + " …"
