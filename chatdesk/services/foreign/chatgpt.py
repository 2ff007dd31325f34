"""ChatGPT's data export (``conversations.json``) read into ``ForeignChat``s.

Each conversation is a ``mapping`` of nodes (id -> message, parent, children) whose
siblings are versions (regenerations, edits) and whose ``current_node`` ends the path
shown. Nodes without a message (the root) and hidden or empty system messages are left
out, their children moved up to the nearest kept node. Custom instructions (a hidden
``user_editable_context`` message, or the older hidden system message carrying
``user_context_message_data``) become the chat's system prompt. Tool calls and tool
output become readable assistant messages (the tool named, its text in a fence) marked
in ``extra``; images and files the export only points at become notes, and a content
type this reader does not know keeps its text with a note naming it.
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
    fenced,
    flag,
    items_of,
    key_at,
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

NOT_CHATGPT = "has no “mapping” of messages, so it is not a ChatGPT conversation"
_UNFINISHED = ("in_progress", "finished_partial_completion")
_MEDIA = {
    "image_asset_pointer": "Image",
    "audio_asset_pointer": "Audio",
    "video_container_asset_pointer": "Video",
    "real_time_user_audio_video_asset_pointer": "Audio",
}


def read_chats(source: IO[bytes], step: Step) -> Iterator[ForeignChat]:
    """The conversations of a ChatGPT ``conversations.json``, one at a time."""
    for place, item in conversations(source, step, "conversations", single=False):
        yield _chat(obj(item, place), place)


def _chat(item: dict[str, Any], place: str) -> ForeignChat:
    mapping = item.get("mapping")
    if not isinstance(mapping, dict):
        raise FormatError(place, NOT_CHATGPT)
    prompts: list[str] = []
    drafts: list[Draft] = []
    for key, node in mapping.items():
        where = key_at(at(place, "mapping"), key)
        node = obj(node, where)
        ref = ref_of(key, where)
        parent = optional_ref(node.get("parent"), at(where, "parent"))
        message = node.get("message")
        kept = None
        if message is not None:
            kept = _message(obj(message, at(where, "message")), at(where, "message"), prompts)
        drafts.append(Draft(ref, parent, where, kept))
    settled = settle(drafts, place)
    notes: tuple[str, ...] = ()
    leaf_ref = optional_ref(item.get("current_node"), at(place, "current_node"))
    leaf = settled.leaf(leaf_ref)
    if leaf_ref is not None and leaf_ref not in settled.kept:
        notes = ("The message ChatGPT showed last is not in the export.",)
    prompt, prompt_notes = system_prompt("\n\n".join(prompts) or None)
    conversation_id = text_or_none(item, "conversation_id", place) or text_or_none(
        item, "id", place
    )
    return ForeignChat(
        source=Source.CHATGPT,
        source_id=conversation_id,
        title=title(text_or_none(item, "title", place), settled.messages, "ChatGPT chat"),
        messages=settled.messages,
        current_leaf=leaf,
        created_at=epoch_time(item.get("create_time"), at(place, "create_time")),
        updated_at=epoch_time(item.get("update_time"), at(place, "update_time")),
        model=plain(text_or_none(item, "default_model_slug", place)),
        system_prompt=prompt,
        notes=notes + prompt_notes,
    )


def _message(message: dict[str, Any], place: str, prompts: list[str]) -> ForeignMessage | None:
    """One node's message as chatdesk shows it; None when it is not shown (its custom
    instructions, if any, go to ``prompts``)."""
    author = obj(message.get("author") or {}, at(place, "author"))
    role = text_or_none(author, "role", at(place, "author")) or "assistant"
    body = obj(message.get("content") or {}, at(place, "content"))
    kind = text_or_none(body, "content_type", at(place, "content")) or "text"
    meta = obj(message.get("metadata") or {}, at(place, "metadata"))
    hidden = flag(meta, "is_visually_hidden_from_conversation")
    context = meta.get("user_context_message_data")
    if kind == "user_editable_context":
        prompts.extend(_instructions(body, ("user_profile", "user_instructions")))
        return None
    if kind == "model_editable_context" and hidden:  # ChatGPT's memory, never shown
        return None
    if isinstance(context, dict) and role in ("system", "user"):
        prompts.extend(_instructions(context, ("about_user_message", "about_model_message")))
        return None
    notes: list[str] = []
    text = _text(body, kind, at(place, "content"), notes)
    created = epoch_time(message.get("create_time"), at(place, "create_time"))
    model = plain(text_or_none(meta, "model_slug", at(place, "metadata")))
    where = at(at(place, "metadata"), "attachments")
    notes.extend(missing_files(meta.get("attachments"), where, "name", "id"))
    if role == "system":
        if hidden or not text.strip():
            return None
        return ForeignMessage("", None, Role.SYSTEM, content(text, place), created, None)
    if not text.strip() and not notes:
        return None
    extra: dict[str, Any] = {}
    recipient = text_or_none(message, "recipient", place)
    language = text_or_none(body, "language", at(place, "content")) or ""
    language = "" if language == "unknown" else language
    if kind == "code" and role == "assistant" and recipient in (None, "all"):
        text = fenced(text, language)
    elif role == "tool":
        name = plain(text_or_none(author, "name", at(place, "author"))) or "tool"
        text = _tool_output(name, text, kind)
        extra = {"source_role": "tool", "tool": name}
    elif role == "assistant" and recipient not in (None, "all"):
        name = plain(recipient) or "tool"
        text = f"Call to “{name}”:\n\n" + fenced(text, language)
        extra = {"source_role": "assistant", "tool_call": name}
    elif role not in ("user", "assistant"):
        notes.append(f"Written by “{shown(role)}” in ChatGPT.")
        extra = {"source_role": plain(role)}
    if role != "user" and text_or_none(message, "status", place) in _UNFINISHED:
        notes.append("This reply was not finished in ChatGPT.")
    return ForeignMessage(
        ref="",
        parent=None,
        role=Role.USER if role == "user" else Role.ASSISTANT,
        content=content(text, place),
        created_at=created,
        model=model,
        notes=tuple(notes),
        extra=extra,
    )


def _instructions(holder: dict[str, Any], keys: tuple[str, str]) -> list[str]:
    return [text for key in keys if isinstance(text := holder.get(key), str) and text.strip()]


def _tool_output(name: str, text: str, kind: str) -> str:
    header = f"Output of “{name}”:"
    if not text.strip():
        return header
    if kind in ("tether_quote", "tether_browsing_display", "thoughts", "reasoning_recap"):
        return f"{header}\n\n{text}"
    return f"{header}\n\n{fenced(text)}"


def _text(body: dict[str, Any], kind: str, place: str, notes: list[str]) -> str:
    """The readable text of a message's ``content``, by its ``content_type``."""
    if kind in ("text", "multimodal_text"):
        return _parts(items_of(body.get("parts"), at(place, "parts")), at(place, "parts"), notes)
    if kind in ("code", "execution_output", "system_error"):
        return text_or_none(body, "text", place) or ""
    if kind == "tether_browsing_display":
        return text_or_none(body, "result", place) or text_or_none(body, "summary", place) or ""
    if kind == "tether_quote":
        lines = [text_or_none(body, key, place) or "" for key in ("title", "url")]
        quote = text_or_none(body, "text", place) or ""
        quoted = "\n".join("> " + line for line in quote.splitlines())
        return "\n\n".join(part for part in (*lines, quoted) if part)
    if kind == "thoughts":
        return _thoughts(items_of(body.get("thoughts"), at(place, "thoughts")), place)
    if kind == "reasoning_recap":
        recap = text_or_none(body, "content", place) or ""
        return f"*{recap}*" if recap else ""
    return _unknown(body, kind, place, notes)


def _parts(parts: list[Any], place: str, notes: list[str]) -> str:
    texts: list[str] = []
    for index, part in enumerate(parts):
        where = f"{place}[{index}]"
        if isinstance(part, str):
            texts.append(part)
            continue
        part = obj(part, where)
        kind = text_or_none(part, "content_type", where) or "unknown"
        if kind in _MEDIA:
            pointer = text_or_none(part, "asset_pointer", where) or ""
            name = pointer.split("://", 1)[-1] or "(no id)"
            notes.append(f"{_MEDIA[kind]} not included in the export: {shown(name)}")
        elif kind == "audio_transcription":
            texts.append(text_or_none(part, "text", where) or "")
        else:
            texts.append(_unknown(part, kind, where, notes))
    return "\n".join(text for text in texts if text)


def _thoughts(thoughts: list[Any], place: str) -> str:
    texts = []
    for index, thought in enumerate(thoughts):
        where = f"{at(place, 'thoughts')}[{index}]"
        thought = obj(thought, where)
        summary = text_or_none(thought, "summary", where)
        body = text_or_none(thought, "content", where) or ""
        texts.append(f"**{summary}**\n\n{body}" if summary else body)
    return "\n\n".join(text for text in texts if text)


def _unknown(body: dict[str, Any], kind: str, place: str, notes: list[str]) -> str:
    """Whatever text a content type this reader does not know holds, and a note."""
    texts = [
        value for key in ("text", "result", "content") if isinstance(value := body.get(key), str)
    ]
    texts.extend(part for part in items_of(body.get("parts"), place) if isinstance(part, str))
    if texts:
        notes.append(f"Content of type “{shown(kind)}” is kept as its text only.")
    else:
        notes.append(f"Content of type “{shown(kind)}” could not be shown.")
    return "\n".join(text for text in texts if text)
