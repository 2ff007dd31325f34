"""Open WebUI's chat export (Settings > Chats > Export) read into ``ForeignChat``s.

The file is a list of ``{id, title, chat, created_at, updated_at}`` (one chat's export
is a list of one; a bare object is taken too). The truth of a chat is its
``chat.history``: messages by id, each naming its ``parentId``, and ``currentId``, the
leaf shown; ``chat.messages`` (the path, repeated) is not read. The system prompt is
``chat.params.system`` (or ``chat.system``). Files and images sent with a message are
not kept by chatdesk: each becomes a note.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from chatdesk.services.foreign.chat import ForeignChat, ForeignMessage, FormatError, Source, Step
from chatdesk.services.foreign.common import (
    Draft,
    at,
    content,
    conversations,
    epoch_time,
    items_of,
    key_at,
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

NOT_OPEN_WEBUI = "has no “chat.history”, so it is not an Open WebUI chat"
_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}


def read_chats(source: IO[bytes], step: Step) -> Iterator[ForeignChat]:
    """The chats of an Open WebUI export, one at a time."""
    for place, item in conversations(source, step, "chats"):
        yield _chat(obj(item, place), place)


def _chat(item: dict[str, Any], place: str) -> ForeignChat:
    if isinstance(item.get("chat"), dict):
        chat, chat_place = item["chat"], at(place, "chat")
    elif "history" in item:  # the inner chat object alone, as Open WebUI imports too
        chat, chat_place = item, place
    else:
        raise FormatError(place, NOT_OPEN_WEBUI)
    if not isinstance(chat.get("history"), dict):
        raise FormatError(chat_place, NOT_OPEN_WEBUI)
    history = chat["history"]
    history_place = at(chat_place, "history")
    listed = obj(history.get("messages") or {}, at(history_place, "messages"))
    drafts = []
    for key, message in listed.items():
        where = key_at(at(history_place, "messages"), key)
        message = obj(message, where)
        ref = ref_of(key, where)
        parent = optional_ref(message.get("parentId"), at(where, "parentId"))
        drafts.append(Draft(ref, parent, where, _message(message, where)))
    settled = settle(drafts, place)
    leaf_ref = optional_ref(history.get("currentId"), at(history_place, "currentId"))
    notes: tuple[str, ...] = ()
    if leaf_ref is not None and leaf_ref not in settled.kept:
        notes = ("The message Open WebUI showed last is not in the export.",)
    params = chat.get("params")
    prompt_text = (
        text_or_none(params, "system", at(chat_place, "params"))
        if isinstance(params, dict)
        else None
    )
    prompt, prompt_notes = system_prompt(prompt_text or text_or_none(chat, "system", chat_place))
    models = [model for model in items_of(chat.get("models"), at(chat_place, "models"))]
    model = plain(models[0]) if models and isinstance(models[0], str) else None
    name = text_or_none(item, "title", place) or text_or_none(chat, "title", chat_place)
    return ForeignChat(
        source=Source.OPEN_WEBUI,
        source_id=text_or_none(item, "id", place) or text_or_none(chat, "id", chat_place),
        title=title(name, settled.messages, "Open WebUI chat"),
        messages=settled.messages,
        current_leaf=settled.leaf(leaf_ref),
        created_at=epoch_time(item.get("created_at"), at(place, "created_at")),
        updated_at=epoch_time(item.get("updated_at"), at(place, "updated_at")),
        model=model,
        system_prompt=prompt,
        notes=notes + prompt_notes,
    )


def _message(message: dict[str, Any], place: str) -> ForeignMessage:
    role = _ROLES.get(text_or_none(message, "role", place) or "")
    if role is None:
        raise FormatError(at(place, "role"), f"{shown(message.get('role'))} is not a role")
    notes = _files(message, place)
    text = message.get("content")
    if not isinstance(text, str):  # a message sent with images: a list of parts
        text = _parts(items_of(text, at(place, "content")), at(place, "content"), notes)
    error = message.get("error")
    if error:
        said = error.get("content") if isinstance(error, dict) else None
        told = f": {shown(said)}" if isinstance(said, str) and said else "."
        notes.append(f"This reply ended with an error in Open WebUI{told}")
    return ForeignMessage(
        ref="",
        parent=None,
        role=role,
        content=content(text, place),
        created_at=epoch_time(message.get("timestamp"), at(place, "timestamp")),
        model=plain(text_or_none(message, "model", place)) if role is Role.ASSISTANT else None,
        notes=tuple(notes),
    )


def _parts(parts: list[Any], place: str, notes: list[str]) -> str:
    """The text of an OpenAI-style content list; its other parts (images) become notes."""
    texts = []
    for index, part in enumerate(parts):
        where = f"{place}[{index}]"
        part = obj(part, where)
        kind = text_or_none(part, "type", where) or "text"
        if kind == "text":
            texts.append(text_or_none(part, "text", where) or "")
        elif kind == "image_url":
            notes.append("An image sent with this message was not imported.")
        else:
            notes.append(f"A part of type “{shown(kind)}” could not be shown.")
    return "\n".join(texts)


def _files(message: dict[str, Any], place: str) -> list[str]:
    notes = []
    for index, item in enumerate(items_of(message.get("files"), at(place, "files"))):
        where = f"{at(place, 'files')}[{index}]"
        item = obj(item, where)
        kind = text_or_none(item, "type", where)
        inner: dict[str, Any] = item["file"] if isinstance(item.get("file"), dict) else {}
        name = text_or_none(item, "name", where) or text_or_none(inner, "filename", where)
        if kind == "image":
            notes.append("An image sent with this message was not imported.")
        else:
            notes.append(f"Attachment “{shown(name or '(unnamed)')}” was not imported.")
    return notes
