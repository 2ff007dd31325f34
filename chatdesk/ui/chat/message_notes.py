"""What an imported message could not bring along, shown under its text.

An import from another app keeps what it cannot show (an image the export only points
to, a canvas, a tool the other app ran) as notes in the message's metadata; the bubble
draws them after the text, quoted and muted, so nothing is dropped without a word. The
notes are not part of the message: Copy, Edit and the model never see them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chatdesk.services.records import MessageRecord

MAX_NOTES = 20
MAX_NOTE_CHARS = 300
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def notes_of(metadata: Mapping[str, Any]) -> list[str]:
    """The notes kept in ``metadata`` (text only, each on one line, within reason)."""
    notes = metadata.get("notes")
    if not isinstance(notes, list):
        return []
    kept = [" ".join(note.split())[:MAX_NOTE_CHARS] for note in notes if isinstance(note, str)]
    return [note for note in kept if note][:MAX_NOTES]


def bubble_text(m: MessageRecord) -> str:
    """The Markdown a bubble shows: the message, then its notes (escaped, so a note
    from a hostile file stays plain words)."""
    notes = notes_of(m.metadata)
    if not notes:
        return m.content
    quoted = "\n>\n".join(f"> *{_escaped(note)}*" for note in notes)
    return f"{m.content.rstrip()}\n\n{quoted}" if m.content.strip() else quoted


def _escaped(note: str) -> str:
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", note)


def model_of(metadata: Mapping[str, Any]) -> str:
    """The other app's model name of an imported reply (empty when there is none)."""
    model = metadata.get("model")
    return " ".join(model.split())[:40] if isinstance(model, str) else ""
