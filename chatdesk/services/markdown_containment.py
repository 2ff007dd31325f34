"""Message text made safe to paste into a Markdown document between our own headers.

Why: an export should read as Markdown (lists, code, emphasis rendered), yet a reply is
untrusted text. Pasted as it is, a reply could forge the export's structure: write a
``## You · …`` heading of its own, or open a code fence or an HTML comment that swallows
every message after it. ``contained_markdown`` keeps the reply's Markdown and removes
exactly those powers:

- headings inside a message are demoted by two levels (``#`` becomes ``###``), so the
  document's own levels 1 and 2 (title and message headers) cannot be written by a
  message; a setext heading (a line underlined with ``===`` or ``---``) becomes its ATX
  twin, demoted the same way;
- a fence a message leaves open is closed at the message's end;
- raw HTML blocks are shown as text (escaped), as the chat bubbles show them: some kinds
  (``<!--``, ``<pre>``, ``<script>``) would otherwise run on to the end of the document.

Each fix is found by parsing with markdown-it (CommonMark), the parser the bubbles use,
and the text is parsed again after a fix because escaping an HTML block can turn its
lines into headings; a few rounds settle any text.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

_HEADING_SHIFT = 2
_MAX_ROUNDS = 16
_LEAD = r"(?P<lead>(?:[ \t]*(?:>|[-+*]|\d{1,9}[.)]))*[ \t]*)"
_ATX = re.compile("^" + _LEAD + r"(?P<hashes>#{1,6})(?=[ \t]|$)")
_SETEXT_UNDERLINE = re.compile(r"^(?P<lead>(?:[ \t]*>)*[ \t]*)(?P<rule>=+|-+)[ \t]*$")
_HTML_START = re.compile("^" + _LEAD + "<")

_parser = MarkdownIt("commonmark")


def contained_markdown(text: str) -> str:
    """``text`` with its Markdown kept but unable to change the document around it."""
    lines = text.split("\n")
    for _ in range(_MAX_ROUNDS):
        if not _make_html_inert(lines):
            break
    else:  # pragma: no cover - no text found needs this many rounds; stay safe anyway
        lines = [_escape_line(line) for line in lines]
    _demote_headings(lines)
    body = "\n".join(lines).rstrip("\n")
    closing = _closing_fence(body)
    if closing:
        body += "\n" + closing
    return body + "\n"


def _make_html_inert(lines: list[str]) -> bool:
    """Escape the raw HTML and images one parse finds; False when there were none.

    Another parse must follow a change: the lines of an escaped HTML block are Markdown
    again and may hold more HTML.
    """
    changed = False
    for token in _parser.parse("\n".join(lines)):
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "html_block":
            match = _HTML_START.match(lines[start])
            if match:
                lead = match.group("lead")
                lines[start] = lead + "\\" + lines[start][len(lead) :]
                changed = True
        elif token.type == "inline" and token.children:
            changed |= _escape_inline(lines, token.children, start, end)
    return changed


def _escape_inline(lines: list[str], children: list[Token], start: int, end: int) -> bool:
    """Inline HTML shown as text; an image becomes a link (a viewer would fetch it)."""
    changed = False
    for child in children:
        if child.type == "html_inline":
            old, new = child.content, "\\" + child.content
        elif child.type == "image":
            old, new = "![", "\\!["
        else:
            continue
        for n in range(start, end):
            at = lines[n].find(old)
            if at >= 0 and (at == 0 or lines[n][at - 1] != "\\"):
                lines[n] = lines[n][:at] + new + lines[n][at + len(old) :]
                changed = True
                break
    return changed


def _demote_headings(lines: list[str]) -> None:
    """Every heading of the message two levels down (one parse: demoted ones stay put)."""
    for token in reversed(_parser.parse("\n".join(lines))):
        if token.type != "heading_open" or token.map is None:
            continue
        start, end = token.map
        level = min(int(token.tag[1]) + _HEADING_SHIFT, 6)
        if token.markup.startswith("#"):
            match = _ATX.match(lines[start])
            if match is not None:
                lines[start] = match.group("lead") + "#" * level + lines[start][match.end() :]
            continue
        underline = _SETEXT_UNDERLINE.match(lines[end - 1])
        if underline is None:
            continue
        title = " ".join(line.strip().lstrip(">").strip() for line in lines[start : end - 1])
        heading = underline.group("lead") + "#" * level + " " + title
        lines[start:end] = [heading] + [""] * (end - 1 - start)


def _closing_fence(text: str) -> str:
    """The line that closes a top-level fence left open at the end of ``text``, or ''."""
    lines = text.split("\n")
    for token in reversed(_parser.parse(text)):
        if token.type != "fence" or token.level != 0 or token.map is None:
            continue
        start, end = token.map
        last = lines[end - 1].strip() if end - 1 > start else ""
        closed = len(last) >= len(token.markup) and set(last) == {token.markup[0]}
        return "" if closed else token.markup
    return ""


def _escape_line(line: str) -> str:
    return "\\" + line if line.strip() else line
