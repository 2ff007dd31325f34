"""Model output to Qt rich text, safely.

Replies come from a language model and are untrusted. Qt's rich text engine will load
``file:``, ``data:`` and ``qrc:`` resources (images, style sheets) on its own, and a
QLabel guesses rich text. So:

- Markdown is parsed by markdown-it with ``html=False``: raw HTML in a reply becomes
  visible text, never markup.
- Images are never emitted as ``<img>``: they become a muted "[image: alt]" text.
- Links are emitted only for http, https and mailto targets; anything else (``file:``,
  ``javascript:``...) is left as plain text. Links never open by themselves: the view
  reports a click and the window opens http/https only (``is_openable_url``).
- Every document is a ``SafeTextDocument`` whose ``loadResource`` refuses everything,
  in case some markup ever slips through.

Code blocks are highlighted with Pygments using inline styles (Qt rich text has no
style sheet classes to speak of), inside a one-cell table that gives them a background
and padding; code lines never wrap (``code_scroll`` scrolls a wide block sideways). Qt
cannot draw a border on one side of a block, so a quote is a two-cell table whose
narrow first cell is the bar. A single line break in a reply is kept, as
chat models write poems, addresses and steps that way.

Math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) is found by markdown-it (the
dollar rules of mdit-py-plugins, which leave "$5 and $10" alone, and a bracket rule of
our own). What it becomes is asked of the ``Formulas`` given (``ui/chat/math_images``):
an ``<img>`` of a picture it made, added to the document as a resource by
``build_document``, or, while none is ready or when the formula cannot be read, its
LaTeX as inline code. Without one, formulas stay code.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from PySide6.QtCore import QUrl
from PySide6.QtGui import (
    QFont,
    QImage,
    QTextBlockFormat,
    QTextCursor,
    QTextDocument,
    QTextOption,
    QTextTable,
)

from chatdesk.ui.theme import Colors

OPENABLE_SCHEMES = frozenset({"http", "https"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
CODE_PADDING = 10
MONO_FAMILIES = "'DejaVu Sans Mono', 'Menlo', 'Consolas', monospace"


def is_openable_url(url: QUrl | str) -> bool:
    """True only for http(s) URLs with a host: the only links chatdesk opens."""
    qurl = url if isinstance(url, QUrl) else QUrl(url)
    return qurl.isValid() and qurl.scheme().lower() in OPENABLE_SCHEMES and bool(qurl.host())


def _link_allowed(href: str) -> bool:
    qurl = QUrl(href)
    return qurl.isValid() and qurl.scheme().lower() in LINK_SCHEMES


class SafeTextDocument(QTextDocument):
    """A QTextDocument that never loads a resource (image, style sheet, anything).

    Attributes:
        refused: the URLs it was asked for and refused, for tests and diagnostics.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.refused: list[str] = []

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        self.refused.append(name.toString() if isinstance(name, QUrl) else str(name))
        return None


def _fence(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    colors: Colors = env["colors"]
    language = token.info.strip().split()[0] if token.info.strip() else ""
    return code_block_html(token.content, language, colors)


def _code_inline(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    colors: Colors = env["colors"]
    return (
        f'<code style="background-color:{colors.inline_code_bg}; font-family:{MONO_FAMILIES};">'
        f"{html.escape(tokens[idx].content)}</code>"
    )


def _image(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    colors: Colors = env["colors"]
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<span style="color:{colors.muted};">[image: {html.escape(alt)}]</span>'


def _link_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    href = str(tokens[idx].attrGet("href") or "")
    allowed = _link_allowed(href)
    env.setdefault("links", []).append(allowed)
    if not allowed:
        return ""
    return f'<a href="{html.escape(href, quote=True)}">'


def _link_close(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    stack: list[bool] = env.get("links", [])
    return "</a>" if stack and stack.pop() else ""


def _table_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    colors: Colors = env["colors"]
    return (
        f'<table border="1" cellspacing="0" cellpadding="6" '
        f'style="border-color:{colors.border}; border-style:solid; border-collapse:collapse; '
        f'margin-top:6px; margin-bottom:8px;">'
    )


def _th_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    colors: Colors = env["colors"]
    align = tokens[idx].attrGet("style")  # markdown-it's own "text-align:..." only
    style = f"background-color:{colors.inline_code_bg};" + (f" {align};" if align else "")
    return f'<th style="{html.escape(str(style), quote=True)}">'


def _blockquote_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    colors: Colors = env["colors"]
    return (
        '<table width="100%" cellspacing="0" cellpadding="0" border="0" '
        'style="margin-top:6px; margin-bottom:8px;"><tr>'
        f'<td width="3" style="background-color:{colors.rule};"></td>'
        f'<td style="padding-left:12px; color:{colors.muted};">'
    )


def _blockquote_close(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</td></tr></table>\n"


class Formulas(Protocol):
    """What a document's formulas become (``ui/chat/math_images.BubbleFormulas``)."""

    def html(self, latex: str, display: bool) -> str | None:
        """The markup of the formula's picture, or None to show its LaTeX as code."""
        ...


_BRACKETS = {"(": ")", "[": "]"}


def _bracket_math(state: StateInline, silent: bool) -> bool:
    """``\\(…\\)`` inline and ``\\[…\\]`` displayed, anywhere in a paragraph
    (before the escape rule, which would take the backslash)."""
    src, pos = state.src, state.pos
    if src[pos : pos + 1] != "\\" or src[pos + 1 : pos + 2] not in _BRACKETS:
        return False
    opener = src[pos + 1]
    end = src.find("\\" + _BRACKETS[opener], pos + 2)
    if end < 0 or not src[pos + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline" if opener == "(" else "math_inline_double", "math", 0)
        token.content = src[pos + 2 : end]
        token.markup = "\\" + opener
    state.pos = end + 2
    return True


def _math(display: bool) -> Any:
    def render(
        renderer: RendererHTML,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        latex = tokens[idx].content.strip()
        formulas: Formulas | None = env.get("formulas")
        shown = formulas.html(latex, display) if formulas is not None else None
        if shown is not None:
            return shown
        colors: Colors = env["colors"]
        marks = "$$" if display else "$"
        return (
            f'<code style="background-color:{colors.inline_code_bg}; '
            f'font-family:{MONO_FAMILIES};">{html.escape(marks + latex + marks)}</code>'
        )

    return render


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}
    )
    md.enable(["table", "strikethrough"])
    # Quotes or lists nested hundreds deep become tables Qt lays out in seconds; past
    # this depth markdown-it keeps the rest as plain text.
    md.options["maxNesting"] = MAX_NESTING
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _fence)
    md.add_render_rule("code_inline", _code_inline)
    md.add_render_rule("image", _image)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("th_open", _th_open)
    md.add_render_rule("blockquote_open", _blockquote_open)
    md.add_render_rule("blockquote_close", _blockquote_close)
    dollarmath_plugin(
        md, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True
    )
    md.inline.ruler.before("escape", "math_brackets", _bracket_math)
    md.add_render_rule("math_inline", _math(display=False))
    md.add_render_rule("math_inline_double", _math(display=True))
    md.add_render_rule("math_block", _math(display=True))
    return md


@lru_cache(maxsize=4)
def _formatter(style: str) -> HtmlFormatter[str]:
    return HtmlFormatter(style=style, noclasses=True, nowrap=True)


def code_block_html(code: str, language: str, colors: Colors) -> str:
    """A highlighted code block as a padded one-cell table (what Qt can draw)."""
    code = code.rstrip("\n")
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    body = (
        highlight(code, lexer, _formatter(colors.pygments_style)).rstrip("\n")
        if lexer is not None
        else html.escape(code)
    )
    # Every block has a label row (a zero-width space without a language, which copies
    # leave out): the painted Copy button sits at its right end, never over the code.
    label = (
        f'<p style="color:{colors.muted}; font-size:small; margin-bottom:4px;">'
        f"{html.escape(language) if language else chr(0x200B)}</p>"
    )
    return (
        f'<table width="100%" cellspacing="0" cellpadding="{CODE_PADDING}" '
        f'style="background-color:{colors.code_bg}; border-color:{colors.border}; '
        f'border-style:solid; border-collapse:collapse; margin-top:6px; margin-bottom:8px;" '
        f'border="1">'
        f'<tr><td style="background-color:{colors.code_bg};">{label}'
        f'<pre style="font-family:{MONO_FAMILIES}; white-space:pre; margin:0;">'
        f"{body}</pre></td></tr></table>\n"
    )


MAX_NESTING = 8
DISPLAY_CHARS = 60_000  # longer messages are shown cut (stored, copied, exported whole)
LONG_RUN = 120  # unbroken runs longer than this get break opportunities for display
_LONG_RUN = re.compile(r"\S{" + str(LONG_RUN) + ",}")
MAX_MARKS = 4_000  # markdown-it parses marks at ~3 µs each: more, and it's shown as text
_MARKS = "[]*_`<>\\!|~#"


def display_text(text: str) -> str:
    """The part of a message a bubble shows, made cheap for Qt to lay out.

    Qt's text layout is slow on pathological input (a 1 MB line takes tens of
    seconds), so a bubble shows at most ``DISPLAY_CHARS`` characters, with a note,
    and long unbroken runs get zero-width break opportunities. The stored message
    is never changed; Copy and Export use it whole.
    """
    shown = text
    if len(text) > DISPLAY_CHARS:
        cut = text.rfind("\n", DISPLAY_CHARS // 2, DISPLAY_CHARS)
        shown = text[: cut if cut > 0 else DISPLAY_CHARS]
        if shown.count("```") % 2:
            shown += "\n```"
        shown += (
            f"\n\n*… showing the first {len(shown):,} of {len(text):,} characters; "
            "Copy text or Export has all of it.*"
        )
    return _LONG_RUN.sub(_breakable, shown)


# A last line still being written that Markdown would read as a block of its own: "-"
# under a paragraph is a heading underline until "- item" arrives, ">" an empty quote bar,
# "#" an empty heading, "1." an empty list. Shown, the text would jump to another block
# type and back.
_UNSETTLED_LINE = re.compile(r"(?:(?<=\n)|\A) {0,3}(?:[-=*_+#>]+|\d{1,9}[.)])[ \t]*\Z")


def settled_text(text: str) -> str:
    """``text`` without a last, unfinished line that would flip its block's type.

    For replies still streaming (or cut off by Stop or an error): the next characters
    decide what such a line is, so it waits for them. The message itself is unchanged.
    """
    return _UNSETTLED_LINE.sub("", text)


def worth_markdown(text: str) -> bool:
    """Whether to render ``text`` as Markdown: not when it is mostly markup marks
    (twenty thousand ``[`` would take markdown-it a noticeable pause to parse)."""
    return sum(text.count(mark) for mark in _MARKS) <= MAX_MARKS


def _breakable(match: re.Match[str]) -> str:
    run = match.group(0)
    return "\u200b".join(run[i : i + LONG_RUN // 2] for i in range(0, len(run), LONG_RUN // 2))


def render_markdown(text: str, colors: Colors, formulas: Formulas | None = None) -> str:
    """Markdown from a model to Qt rich text, with no raw HTML, images or unsafe links
    (formulas as ``formulas`` makes them, see the module doc)."""
    return str(_parser().render(text, {"colors": colors, "formulas": formulas})).strip()


def code_blocks(text: str) -> list[str]:
    """The code of each code block of a reply, in document order (for "Copy code")."""
    return [
        token.content.rstrip("\n")
        for token in _parser().parse(text)
        if token.type in ("fence", "code_block")
    ]


def render_plain(text: str) -> str:
    """Text a person typed: shown as written (escaped, line breaks and spaces kept)."""
    return f'<p style="white-space:pre-wrap;">{html.escape(text)}</p>'


def document_style_sheet(link_color: str) -> str:
    return (
        "p, ul, ol, pre, blockquote { margin-top: 0px; margin-bottom: 8px; }"
        "ul ul, ul ol, ol ul, ol ol { margin-top: 0px; margin-bottom: 0px; }"
        "li { margin-bottom: 2px; }"
        "h1 { font-size: x-large; margin-top: 14px; margin-bottom: 6px; }"
        "h2 { font-size: large; margin-top: 12px; margin-bottom: 6px; }"
        "h3, h4, h5, h6 { font-size: medium; margin-top: 10px; margin-bottom: 4px; }"
        f"a {{ color: {link_color}; }}"
    )


BLOCK_SPACING = 8
ITEM_SPACING = 2
LIST_INDENT = 22
"""Pixels per list level (Qt's default of 40 pushes nested lists far right)."""


def build_document(
    html_text: str,
    font: QFont,
    width: float,
    link_color: str,
    parent: Any = None,
    pictures: Sequence[tuple[str, QImage]] = (),
) -> SafeTextDocument:
    """A laid-out, resource-proof document for one message at ``width`` pixels; its
    only images are ``pictures`` (our own formulas, by the name the markup uses)."""
    doc = SafeTextDocument(parent)
    for name, picture in pictures:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), picture)
    doc.setUndoRedoEnabled(False)
    doc.setDocumentMargin(0)
    doc.setIndentWidth(LIST_INDENT)
    doc.setDefaultFont(font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    doc.setDefaultTextOption(option)
    doc.setDefaultStyleSheet(document_style_sheet(link_color))
    doc.setHtml(html_text)
    _space_lists(doc)
    for frame in doc.rootFrame().childFrames():
        if isinstance(frame, QTextTable):
            _trim_cells(frame)
    _trim_outer_margins(doc)
    doc.setTextWidth(width)
    return doc


def _space_lists(doc: QTextDocument) -> None:
    """Items of a list, nested ones included, sit close; the space comes after the list."""
    block = doc.firstBlock()
    while block.isValid():
        following = block.next()
        if block.textList() is not None:
            fmt = QTextBlockFormat()
            in_list = following.isValid() and following.textList() is not None
            fmt.setBottomMargin(ITEM_SPACING if in_list else BLOCK_SPACING)
            QTextCursor(block).mergeBlockFormat(fmt)
        block = following


def _trim_cells(table: QTextTable) -> None:
    """No margin under the last paragraph of a cell (a quote's text, say)."""
    for row in range(table.rows()):
        for column in range(table.columns()):
            cell = table.cellAt(row, column)
            cursor = cell.lastCursorPosition()
            fmt = QTextBlockFormat()
            fmt.setBottomMargin(0)
            cursor.mergeBlockFormat(fmt)


def _trim_outer_frames(doc: QTextDocument) -> None:
    """A reply that starts or ends with a table (a code block) has no margin there."""
    frames = doc.rootFrame().childFrames()
    if not frames:
        return
    first, last = frames[0], frames[-1]
    if first.firstPosition() <= 1:
        top = first.frameFormat()
        top.setTopMargin(0)
        first.setFrameFormat(top)
    if last.lastPosition() + 2 >= doc.characterCount():
        bottom = last.frameFormat()
        bottom.setBottomMargin(0)
        last.setFrameFormat(bottom)


def _trim_outer_margins(doc: QTextDocument) -> None:
    """No space above the first block or below the last: the bubble pads itself."""
    _trim_outer_frames(doc)
    first, last = doc.firstBlock(), doc.lastBlock()
    if not first.isValid():
        return
    cursor = QTextCursor(first)
    fmt = QTextBlockFormat()
    fmt.setTopMargin(0)
    cursor.mergeBlockFormat(fmt)
    # The last block can be an empty one markdown-it's trailing newline left behind.
    while (
        last.isValid() and last != first and not last.text().strip() and last.previous().isValid()
    ):
        if last.textList() is not None or last.blockFormat().nonBreakableLines():
            break
        prev = last.previous()
        cursor = QTextCursor(last)
        cursor.select(QTextCursor.SelectionType.BlockUnderCursor)
        cursor.removeSelectedText()
        last = prev
    cursor = QTextCursor(doc.lastBlock())
    fmt = QTextBlockFormat()
    fmt.setBottomMargin(0)
    cursor.mergeBlockFormat(fmt)
