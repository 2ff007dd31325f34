"""Whatever a file holds, import either takes it or says which field is wrong, and where.

Numbers past 64 bits, 5,000-digit numbers, times that leave the calendar once moved to
UTC, lone surrogates and NUL where a plain column cannot keep them: each was a raw
``OverflowError``/``ValueError``/``UnicodeEncodeError`` (or a crash of the process).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from chatdesk.services import Services
from chatdesk.services.errors import ValidationError
from chatdesk.services.threads import title_from_text
from chatdesk.services.transfer import TransferError
from chatdesk.store.migrate import open_store
from chatdesk.store.models import Message, Thread

LONE_SURROGATE = "\ud800"
BIG = "__BIG__"
"""Stands for a 5,000-digit number, which ``json.dumps`` itself refuses to write."""


def _valid() -> dict[str, Any]:
    return {
        "format": "chatdesk-thread",
        "version": 1,
        "thread": {"title": "Checked", "crew": "assistant", "model": "openai/x"},
        "executions": [{"ref": 7, "crew": "assistant", "status": "completed"}],
        "messages": [
            {
                "role": "user",
                "content": "hi",
                "status": "completed",
                "triggers_execution": True,
                "execution": 7,
                "created_at": "2024-05-01T10:00:00+00:00",
                "metadata": {},
            },
            {
                "role": "assistant",
                "content": "hello",
                "status": "completed",
                "execution": 7,
                "created_at": "2024-05-01T10:00:01+00:00",
            },
        ],
    }


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return document


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document).replace(f'"{BIG}"', "9" * 5000)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "executions.0.prompt_tokens",
            2**64,
            "executions[0].prompt_tokens: a whole number beyond 64 bits.",
        ),
        ("messages.0.metadata", {"n": BIG}, "messages[0].metadata.n: a whole number beyond 64"),
        ("executions.0.ref", BIG, "executions[0].ref: a whole number beyond 64 bits."),
        ("messages.0.metadata", {"x": 1e308}, None),  # fine: a double holds it
        (
            "messages.0.created_at",
            "0001-01-01T00:00:00+01:00",
            "messages[0].created_at: year 1 with a time zone is out of range.",
        ),
        (
            "executions.0.finished_at",
            "9999-12-31T23:30:00-05:00",
            "executions[0].finished_at: year 9999 with a time zone is out of range.",
        ),
        ("thread.crew", f"crew {LONE_SURROGATE}", "thread.crew: holds a lone surrogate"),
        ("executions.0.model", "a\x00b", "executions[0].model: holds a NUL character at"),
        ("thread.system_prompt", f"x{LONE_SURROGATE}", "thread.system_prompt: holds a lone"),
        ("thread.title", "t" * 100_000, "thread.title: A thread title can have at most 200"),
        ("thread.title", "\u202e\x07 \x00", "thread.title: A thread title cannot be empty."),
        ("executions.0.ref", "r" * 1000, "executions[0].ref: expected a whole number or up to"),
        ("messages.0.metadata", _nested(40), "messages[0].metadata.a.a.a"),
        ("messages.1.created_at", 5, "messages[1].created_at: expected an ISO 8601 time"),
    ],
)
def test_bad_values_name_their_field(
    services: Services, user_id: int, exact: bool, path: str, value: Any, expected: str | None
) -> None:
    document = _set(_valid(), path, value)
    if exact:  # a lone surrogate in a reply: read by the exact (pure Python) parser
        document["messages"][1]["content"] = f"hello {LONE_SURROGATE}"
    if expected is None:
        services.transfer.import_json(user_id, _text(document))
        return
    with pytest.raises(TransferError) as error:
        services.transfer.import_json(user_id, _text(document))
    assert str(error.value).startswith(expected)
    with services.store.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Thread)) == 0


def test_a_title_loses_control_and_bidi_characters_on_every_path(
    services: Services, user_id: int
) -> None:
    reversed_title = "\u202eevil\u0007 title\u2066\x00 \ud800"
    expected = "evil title \ufffd"
    assert services.threads.create(user_id, reversed_title).title == expected
    thread = services.threads.create(user_id, "plain")
    assert services.threads.rename(user_id, thread.id, reversed_title).title == expected
    assert title_from_text(f"\n\u202e\u200f\n{reversed_title}\nmore") == expected
    document = _set(_valid(), "thread.title", reversed_title)
    imported = services.transfer.import_json(user_id, json.dumps(document))
    beside = f"{expected} (imported)"  # a chat of that name exists already
    assert imported.thread.title == beside
    assert services.threads.get(user_id, imported.thread.id).title == beside
    with pytest.raises(ValidationError, match="cannot be empty"):
        services.threads.rename(user_id, thread.id, "\u202e\u0085\x1b")


# -- any value at any field ---------------------------------------------------------------

_FIELDS = [
    "format",
    "version",
    "thread",
    "executions",
    "messages",
    *(
        f"thread.{name}"
        for name in ("title", "crew", "model", "system_prompt", "created_at", "current_leaf")
    ),
    "executions.0",
    *(
        f"executions.0.{name}"
        for name in (
            "ref",
            "crew",
            "status",
            "model",
            "created_at",
            "started_at",
            "finished_at",
            "result",
            "error",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
        )
    ),
    "messages.0",
    *(
        f"messages.{n}.{name}"
        for n in (0, 1)
        for name in (
            "role",
            "content",
            "status",
            "triggers_execution",
            "execution",
            "metadata",
            "created_at",
            "updated_at",
            "ref",
            "parent",
            "chosen_at",
        )
    ),
]
_HOSTILE = st.sampled_from(
    [
        LONE_SURROGATE,
        f"a {LONE_SURROGATE}\udfff b",
        "a\x00b",
        "\u202e",
        "",
        " ",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-05:00",
        "2024-02-30T00:00:00+00:00",
        "completed",
        "user",
        "x" * 300,
        2**63 - 1,
        2**63,
        -(2**63) - 1,
        2**64,
        -1,
        1e308,
        -0.0,
    ]
)
"""Values that once broke an import: tried often, not left to chance."""
_ZONES = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=20)
    | st.datetimes(timezones=_ZONES).map(lambda moment: moment.isoformat())
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Services, int]]:
    """One store for every example (a fresh one each would be most of the run)."""
    with tempfile.TemporaryDirectory(prefix="chatdesk-import-props-") as directory:
        store = open_store(f"sqlite:///{Path(directory) / 'props.db'}")
        services = Services(store)
        yield services, services.users.ensure()
        store.close()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(field=st.sampled_from(_FIELDS), value=_HOSTILE | _VALUES, exact=st.booleans())
def test_any_value_at_any_field_is_taken_or_refused_with_a_reason(
    shared: tuple[Services, int], field: str, value: Any, exact: bool
) -> None:
    services, user_id = shared
    document = _valid()
    if exact:  # read by the exact parser
        document["messages"][1]["content"] = f"hello {LONE_SURROGATE}"
    document = _set(document, field, value)
    try:
        text = json.dumps(document)
    except ValueError:  # a number json itself will not write
        return
    try:
        result = services.transfer.import_json(user_id, text, again=True)
    except TransferError as error:
        assert str(error)
        return
    with services.store.session_factory() as session:  # what was taken reads back
        count = session.scalar(
            select(func.count()).select_from(Message).where(Message.thread_id == result.thread.id)
        )
    assert count == result.messages
    services.messages.list(user_id, result.thread.id)
    services.executions.pending(user_id)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=600),
    flips=st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), max_size=3),
    exact=st.booleans(),
)
def test_any_damage_to_the_bytes_is_taken_or_refused_with_a_reason(
    shared: tuple[Services, int], cut: int, flips: list[tuple[int, int]], exact: bool
) -> None:
    services, user_id = shared
    document = _valid()
    if exact:
        document["messages"][1]["content"] = f"hello {LONE_SURROGATE}"
    data = bytearray(json.dumps(document).encode())
    for at, byte in flips:
        data[at % len(data)] = byte
    try:
        services.transfer.import_json(user_id, bytes(data[: len(data) - cut]), again=True)
    except TransferError as error:
        assert str(error)


def test_a_tree_that_could_loop_or_points_nowhere_is_refused_with_its_place(
    shared: tuple[Services, int],
) -> None:
    services, user_id = shared
    document = _valid()
    first, second = document["messages"]
    first.update(ref="a", parent="b")  # a cycle needs a parent after its child: refused
    second.update(ref="b", parent="a")
    with pytest.raises(TransferError, match=r"messages\[0\]\.parent: no message before it"):
        services.transfer.import_json(user_id, json.dumps(document))
    first["parent"] = None
    document["thread"]["current_leaf"] = "nowhere"
    with pytest.raises(TransferError, match=r"thread\.current_leaf: no message has ref"):
        services.transfer.import_json(user_id, json.dumps(document))
    second["ref"] = "a"
    document["thread"]["current_leaf"] = "a"
    with pytest.raises(TransferError, match=r"messages\[1\]\.ref: 'a' is used twice"):
        services.transfer.import_json(user_id, json.dumps(document))
    second["ref"] = "b"
    imported = services.transfer.import_json(user_id, json.dumps(document))
    shown = services.messages.list(user_id, imported.thread.id).messages
    assert [m.content for m in shown] == ["hi"]  # the leaf named: the first message
    assert shown[0].version is not None and shown[0].version.count == 1
