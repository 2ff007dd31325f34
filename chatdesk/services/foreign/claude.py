"""Claude's data export (``conversations.json``) read into ``ForeignChat``s.

A conversation's ``chat_messages`` are a line in file order, or a tree when they carry
``parent_message_uuid`` (newer exports; the all-zero uuid marks the root). A message's
``content`` parts are read in order: text as is, thinking as a quote, tool calls and
results named with their data in a fence; without parts its ``text`` is the message.

An attachment whose text Claude extracted (``extracted_content``) is kept in the message,
under its name in a fence: Claude gave that text to the model as part of the message,
so the replies that follow refer to it and would not make sense without it (a note
would say it existed but lose what it said). Files the export only names (``files``,
attachments without text: images, PDFs) become notes.
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
    conversations,
    fenced,
    flag,
    iso_time,
    items_of,
    obj,
    optional_ref,
    plain,
    ref_of,
    settle,
    shown,
    text_or_none,
    title,
)
from chatdesk.vocabulary import Role

NOT_CLAUDE = "has no “chat_messages”, so it is not a Claude conversation"
ROOT = "00000000-0000-4000-8000-000000000000"
"""The parent Claude gives a conversation's first messages."""
_ROLES = {"human": Role.USER, "user": Role.USER, "assistant": Role.ASSISTANT}


def read_chats(source: IO[bytes], step: Step) -> Iterator[ForeignChat]:
    """The conversations of a Claude ``conversations.json``, one at a time."""
    for place, item in conversations(source, step, "conversations", single=False):
        yield _chat(obj(item, place), place)


def _chat(item: dict[str, Any], place: str) -> ForeignChat:
    if "chat_messages" not in item:
        raise FormatError(place, NOT_CLAUDE)
    listed = items_of(item.get("chat_messages"), at(place, "chat_messages"))
    drafts: list[Draft] = []
    previous: str | None = None
    for index, message in enumerate(listed):
        where = f"{at(place, 'chat_messages')}[{index}]"
        message = obj(message, where)
        ref = ref_of(message.get("uuid"), at(where, "uuid"))
        if "parent_message_uuid" in message:
            parent = optional_ref(message["parent_message_uuid"], at(where, "parent_message_uuid"))
            parent = None if parent == ROOT else parent
        else:  # older exports: a line in file order
            parent = previous
        drafts.append(Draft(ref, parent, where, _message(message, where)))
        previous = ref
    settled = settle(drafts, place)
    leaf_ref = optional_ref(item.get("current_leaf_message_uuid"), at(place, "current_leaf"))
    return ForeignChat(
        source=Source.CLAUDE,
        source_id=text_or_none(item, "uuid", place),
        title=title(text_or_none(item, "name", place), settled.messages, "Claude chat"),
        messages=settled.messages,
        current_leaf=settled.leaf(leaf_ref),
        created_at=iso_time(item.get("created_at"), at(place, "created_at")),
        updated_at=iso_time(item.get("updated_at"), at(place, "updated_at")),
        model=plain(text_or_none(item, "model", place)),
    )


def _message(message: dict[str, Any], place: str) -> ForeignMessage:
    sender = text_or_none(message, "sender", place)
    role = _ROLES.get(sender or "")
    if role is None:
        raise FormatError(at(place, "sender"), f"{shown(sender)} is not “human” or “assistant”")
    notes: list[str] = []
    tools: list[str] = []
    parts = items_of(message.get("content"), at(place, "content"))
    text = _parts(parts, at(place, "content"), notes, tools)
    if not text.strip():
        text = text_or_none(message, "text", place) or ""
    text = _with_attachments(text, message, place, notes)
    extra: dict[str, Any] = {"tools": tools} if tools else {}
    return ForeignMessage(
        ref="",
        parent=None,
        role=role,
        content=content(text, place),
        created_at=iso_time(message.get("created_at"), at(place, "created_at")),
        notes=tuple(notes),
        extra=extra,
    )


def _parts(parts: list[Any], place: str, notes: list[str], tools: list[str]) -> str:
    texts: list[str] = []
    for index, part in enumerate(parts):
        where = f"{place}[{index}]"
        part = obj(part, where)
        kind = text_or_none(part, "type", where) or "text"
        if kind == "text":
            texts.append(text_or_none(part, "text", where) or "")
        elif kind == "thinking":
            thought = text_or_none(part, "thinking", where) or ""
            texts.append(
                "\n".join(["*Thinking:*", *("> " + line for line in thought.splitlines())])
            )
        elif kind == "tool_use":
            name = plain(text_or_none(part, "name", where)) or "tool"
            tools.append(name)
            texts.append(
                f"Call to “{name}”:\n\n" + fenced(as_json(part.get("input"), where), "json")
            )
        elif kind == "tool_result":
            name = plain(text_or_none(part, "name", where)) or "tool"
            verb = "Error from" if flag(part, "is_error") else "Output of"
            output = _result_text(part.get("content"), at(where, "content"))
            texts.append(f"{verb} “{name}”:\n\n" + fenced(output))
        else:
            found = text_or_none(part, "text", where)
            if found:
                texts.append(found)
                notes.append(f"A part of type “{shown(kind)}” is kept as its text only.")
            else:
                notes.append(f"A part of type “{shown(kind)}” could not be shown.")
    return "\n\n".join(text for text in texts if text)


def _result_text(value: object, place: str) -> str:
    if isinstance(value, str):
        return value
    texts = []
    for index, item in enumerate(items_of(value, place)):
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            texts.append(item["text"])
        else:
            texts.append(as_json(item, f"{place}[{index}]"))
    return "\n".join(texts)


def _with_attachments(text: str, message: dict[str, Any], place: str, notes: list[str]) -> str:
    blocks = [text] if text else []
    attachments = items_of(message.get("attachments"), at(place, "attachments"))
    for index, item in enumerate(attachments):
        where = f"{at(place, 'attachments')}[{index}]"
        item = obj(item, where)
        name = text_or_none(item, "file_name", where) or "(unnamed)"
        extracted = text_or_none(item, "extracted_content", where)
        if extracted:
            blocks.append(f"Attached file “{shown(name)}”:\n\n" + fenced(extracted))
        else:
            notes.append(f"Attachment “{shown(name)}” was not in the export.")
    for index, item in enumerate(items_of(message.get("files"), at(place, "files"))):
        where = f"{at(place, 'files')}[{index}]"
        name = text_or_none(obj(item, where), "file_name", where) or "(unnamed)"
        notes.append(f"File “{shown(name)}” was not in the export.")
    return "\n\n".join(blocks)
