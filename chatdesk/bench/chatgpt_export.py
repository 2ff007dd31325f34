"""A realistic ChatGPT data export written to disk a conversation at a time.

``write_chatgpt_export(path, conversations=1000, messages_per_conversation=1000)``
writes about a gigabyte (replies of about a kilobyte, as long chats have) without ever
holding more than one conversation in memory, for measuring the ChatGPT reader and the
import on a file of the size people bring. Each conversation has what real exports
have: a root node without a message, a hidden empty system message, custom
instructions, alternating questions and replies with the model named, every
``branch_every``-th reply regenerated (an older sibling version), now and then a code
call to the python tool and its output, and ``current_node`` at the last reply.
``python -m chatdesk.bench.chatgpt_export PATH [--messages N]`` writes one.
"""

from __future__ import annotations

import argparse
import json
import random
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

WORDS = (
    "python lisbon regex error train hotel cache stream token agent garden budget review "
    "coffee castle window query index model river deploy rollback kernel socket yaml"
).split()
MODELS = ("gpt-4o", "gpt-4o-mini", "o3")
START = 1_700_000_000.0


def write_chatgpt_export(
    path: Path,
    *,
    conversations: int,
    messages_per_conversation: int,
    branch_every: int = 7,
    zip: bool = False,
    seed: int = 18,
) -> int:
    """Write the export to ``path`` (a ``.zip`` holding ``conversations.json`` when
    ``zip``); returns the number of messages written (versions included)."""
    rng = random.Random(seed)
    written = 0
    with _target(path, zip=zip) as out:
        out.write(b"[")
        for number in range(conversations):
            conversation = _conversation(rng, number, messages_per_conversation, branch_every)
            written += sum(1 for node in conversation["mapping"].values() if _shown(node))
            out.write(b",\n" if number else b"\n")
            out.write(json.dumps(conversation, ensure_ascii=False).encode())
        out.write(b"\n]\n")
    return written


@contextmanager
def _target(path: Path, *, zip: bool) -> Iterator[IO[bytes]]:
    if not zip:
        with path.open("wb") as out:
            yield out
        return
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("conversations.json", "w", force_zip64=True) as out,
    ):
        yield out


def _shown(node: dict[str, Any]) -> bool:
    message = node["message"]
    return (
        message is not None
        and message["author"]["role"] != "system"
        and (message["content"]["content_type"] != "user_editable_context")
    )


def _conversation(rng: random.Random, number: int, messages: int, every: int) -> dict[str, Any]:
    clock = START + number * 86_400.0
    model = MODELS[number % len(MODELS)]
    mapping: dict[str, Any] = {}

    def add(parent: str | None, message: dict[str, Any] | None) -> str:
        ref = f"c{number}-n{len(mapping)}"
        mapping[ref] = {"id": ref, "message": message, "parent": parent, "children": []}
        if parent is not None:
            mapping[parent]["children"].append(ref)
        if message is not None:
            message["id"] = ref
        return ref

    last = add(None, None)
    last = add(last, _message("system", {"content_type": "text", "parts": [""]}, None, hidden=True))
    instructions = {
        "content_type": "user_editable_context",
        "user_profile": "The user is a developer.",
        "user_instructions": "Answer briefly.",
    }
    last = add(last, _message("user", instructions, None, hidden=True))
    count = 0
    replies = 0
    while count < messages:
        clock += rng.uniform(5, 120)
        last = add(last, _message("user", _text(rng, 150), clock))
        count += 1
        if count >= messages:
            break
        replies += 1
        question = last
        if replies % 5 == 0 and count + 3 <= messages:
            code = {"content_type": "code", "language": "python", "text": "print(sum(range(10)))"}
            last = add(last, _message("assistant", code, clock + 1, model=model, to="python"))
            output = {"content_type": "execution_output", "text": "45"}
            last = add(last, _message("tool", output, clock + 2, name="python"))
            count += 2
        if every and replies % every == 0 and count + 2 <= messages:
            add(question, _message("assistant", _text(rng, 900), clock + 3, model=model))
            count += 1
        last = add(last, _message("assistant", _text(rng, 900), clock + 4, model=model))
        count += 1
    return {
        "title": " ".join(rng.choice(WORDS) for _ in range(4)).capitalize(),
        "create_time": START + number * 86_400.0,
        "update_time": clock + 5,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": last,
        "conversation_id": f"bench-{number:07d}",
        "default_model_slug": model,
        "id": f"bench-{number:07d}",
    }


def _message(
    role: str,
    content: dict[str, Any],
    moment: float | None,
    *,
    hidden: bool = False,
    model: str | None = None,
    name: str | None = None,
    to: str = "all",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"is_visually_hidden_from_conversation": True} if hidden else {}
    if model is not None:
        metadata["model_slug"] = model
    return {
        "id": "",
        "author": {"role": role, "name": name, "metadata": {}},
        "create_time": moment,
        "update_time": None,
        "content": content,
        "status": "finished_successfully",
        "end_turn": role == "assistant" or None,
        "weight": 1.0,
        "metadata": metadata,
        "recipient": to,
    }


def _text(rng: random.Random, size: int) -> dict[str, Any]:
    words: list[str] = []
    length = 0
    target = rng.randint(size // 2, size * 3 // 2)
    while length < target:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return {"content_type": "text", "parts": [" ".join(words).capitalize() + "."]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--per-conversation", type=int, default=1_000)
    parser.add_argument("--zip", action="store_true")
    args = parser.parse_args()
    conversations = max(1, args.messages // args.per_conversation)
    written = write_chatgpt_export(
        args.path,
        conversations=conversations,
        messages_per_conversation=args.per_conversation,
        zip=args.zip,
    )
    size = args.path.stat().st_size
    print(json.dumps({"messages": written, "bytes": size}))


if __name__ == "__main__":
    main()
