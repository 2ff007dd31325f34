"""LibreChat's conversation export (JSON) read into ``ForeignChat``s.

One conversation per file: ``{conversationId, title, endpoint, options, messages}``
(a list of them is taken too). Its messages are a flat list naming their
``parentMessageId`` (the all-zero id is the root), or, exported with "recursive", a
tree nested in ``children`` (under ``messagesTree`` in newer versions, ``messages`` in
older ones). A nested chat is as deep as it is long, so the file is read without
ijson's prefixes and the nesting is walked with a stack. ``options.promptPrefix`` is
the system prompt; agent ``content`` parts are read like Claude's (text, thinking,
tool calls named with their data in a fence); files become notes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from chatdesk.services.foreign.chat import ForeignChat, ForeignMessage, FormatError, Source, Step
from chatdesk.services.foreign.common import (
    Draft,
    as_json,
    at,
    content,
    deep_conversations,
    fenced,
    flag,
    iso_time,
    items_of,
    missing_files,
    obj,
    optional_ref,
    plain,
    ref_of,
    settle,
    shown,
    system_prompt,
    text_or_none,
    title,
)
from chatdesk.vocabulary import Role

NOT_LIBRECHAT = "has no “conversationId” and “messages”, so it is not a LibreChat conversation"
NO_PARENT = "00000000-0000-0000-0000-000000000000"


def read_chats(source: IO[bytes], step: Step) -> Iterator[ForeignChat]:
    """The conversation (or conversations) of a LibreChat export."""
    for place, item in deep_conversations(source, step, "conversations"):
        yield _chat(obj(item, place), place)


def _chat(item: dict[str, Any], place: str) -> ForeignChat:
    key = "messagesTree" if "messagesTree" in item else "messages"
    if "conversationId" not in item or key not in item:
        raise FormatError(place, NOT_LIBRECHAT)
    drafts = [
        Draft(ref, parent, where, _message(message, where))
        for ref, parent, where, message in _flattened(item[key], at(place, key))
    ]
    settled = settle(drafts, place)
    options: dict[str, Any] = item["options"] if isinstance(item.get("options"), dict) else {}
    prompt_text = text_or_none(options, "promptPrefix", at(place, "options")) or text_or_none(
        item, "promptPrefix", place
    )
    prompt, notes = system_prompt(prompt_text)
    model = text_or_none(options, "model", at(place, "options")) or text_or_none(
        item, "model", place
    )
    created = [m.created_at for m in settled.messages if m.created_at is not None]
    return ForeignChat(
        source=Source.LIBRECHAT,
        source_id=text_or_none(item, "conversationId", place),
        title=title(text_or_none(item, "title", place), settled.messages, "LibreChat chat"),
        messages=settled.messages,
        created_at=iso_time(item.get("createdAt"), at(place, "createdAt"))
        or (min(created) if created else None),
        updated_at=iso_time(item.get("updatedAt"), at(place, "updatedAt"))
        or (max(created) if created else None),
        model=plain(model),
        system_prompt=prompt,
        notes=notes,
    )


def _flattened(
    messages: object, place: str
) -> Iterator[tuple[str, str | None, str, dict[str, Any]]]:
    """Each message with its ref, parent ref and place, flat or nested, without recursion.

    A nested message's parent is the message it is nested in; a top-level one names its
    own (``parentMessageId``).
    """
    pending: list[tuple[Any, str, str | None, bool]] = [
        (message, f"{place}[{index}]", None, False)
        for index, message in reversed(list(enumerate(items_of(messages, place))))
    ]
    while pending:
        message, where, nested_in, nested = pending.pop()
        message = obj(message, where)
        ref = ref_of(message.get("messageId"), at(where, "messageId"))
        if nested:
            parent = nested_in
        else:
            parent = optional_ref(message.get("parentMessageId"), at(where, "parentMessageId"))
            parent = None if parent == NO_PARENT else parent
        yield ref, parent, where, message
        children = items_of(message.get("children"), at(where, "children"))
        for index in range(len(children) - 1, -1, -1):
            pending.append((children[index], f"{at(where, 'children')}[{index}]", ref, True))


def _message(message: dict[str, Any], place: str) -> ForeignMessage:
    user = flag(message, "isCreatedByUser")
    notes: list[str] = []
    tools: list[str] = []
    text = _parts(items_of(message.get("content"), at(place, "content")), place, notes, tools)
    if not text.strip():
        text = text_or_none(message, "text", place) or ""
    notes.extend(missing_files(message.get("files"), at(place, "files"), "filename", "file_id"))
    if flag(message, "error"):
        notes.append("This reply ended with an error in LibreChat.")
    if flag(message, "unfinished"):
        notes.append("This reply was not finished in LibreChat.")
    extra: dict[str, Any] = {"tools": tools} if tools else {}
    sender = plain(text_or_none(message, "sender", place))
    if sender and not user:
        extra["sender"] = sender
    return ForeignMessage(
        ref="",
        parent=None,
        role=Role.USER if user else Role.ASSISTANT,
        content=content(text, place),
        created_at=iso_time(message.get("createdAt"), at(place, "createdAt")),
        model=None if user else plain(text_or_none(message, "model", place)),
        notes=tuple(notes),
        extra=extra,
    )


def _parts(parts: list[Any], place: str, notes: list[str], tools: list[str]) -> str:
    texts: list[str] = []
    for index, part in enumerate(parts):
        where = f"{at(place, 'content')}[{index}]"
        if part is None:
            continue
        part = obj(part, where)
        kind = text_or_none(part, "type", where) or "text"
        value = part.get(kind)
        if kind in ("text", "error", "think"):
            said = value.get("value") if isinstance(value, dict) else value
            said = said if isinstance(said, str) else ""
            if kind == "think" and said:
                said = "\n".join(["*Thinking:*", *("> " + line for line in said.splitlines())])
            texts.append(said)
        elif kind == "tool_call" and isinstance(value, dict):
            name = plain(text_or_none(value, "name", where)) or "tool"
            tools.append(name)
            args = value.get("args")
            shown_args = args if isinstance(args, str) else as_json(args, where)
            texts.append(f"Call to “{name}”:\n\n" + fenced(shown_args, "json"))
            output = value.get("output")
            if isinstance(output, str) and output:
                texts.append(f"Output of “{name}”:\n\n" + fenced(output))
        elif kind in ("image_file", "image_url"):
            notes.append("An image in this message was not in the export.")
        else:
            notes.append(f"A part of type “{shown(kind)}” could not be shown.")
    return "\n\n".join(text for text in texts if text)
