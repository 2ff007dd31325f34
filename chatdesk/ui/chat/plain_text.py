"""Markdown marks taken out of a message for one-line views (previews, search snippets)."""

from __future__ import annotations

import re

# Emphasis stars touch a word; a star between spaces (``SELECT * FROM``) is text.
_MARKUP = re.compile(
    r"```[\w+-]*|`+|(?<=\S)\*{1,3}|\*{1,3}(?=\S)|~~|__|^#{1,6}\s+|^>\s?", re.MULTILINE
)


def strip_markup(text: str) -> str:
    """``text`` without code fences, backticks, emphasis, heading and quote marks."""
    return _MARKUP.sub("", text)
