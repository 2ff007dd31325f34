"""``json_stream.members`` reads what ``json.loads`` reads, a part at a time, on both backends."""

from __future__ import annotations

import io
import json
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatdesk.services.json_stream import (
    BEYOND_64_BITS,
    EXACT,
    FAST,
    NOT_AN_OBJECT,
    JSONStreamError,
    backend_for,
    members,
)

BACKENDS = pytest.mark.parametrize("backend", [FAST, EXACT], ids=["fast", "exact"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63) + 1, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _read(data: bytes, backend: ModuleType = FAST, lists: tuple[str, ...] = ("items",)) -> Any:
    """The document put back together from its parts."""
    document: dict[str, Any] = {}
    for part in members(
        io.BytesIO(data), lists=lists, build=_Everything(), step=lambda _: None, backend=backend
    ):
        if part.index is None:
            document[part.key] = part.value
        else:
            assert part.index == len(document[part.key])
            document[part.key].append(part.value)
    return document


class _Everything:
    def __contains__(self, key: object) -> bool:
        return True


@given(st.dictionaries(st.text(), _VALUES, max_size=5), st.lists(_VALUES, max_size=5))
def test_same_value_as_json_loads(document: dict[str, Any], items: list[Any]) -> None:
    document["items"] = items
    for ensure_ascii in (True, False):
        text = json.dumps(document, ensure_ascii=ensure_ascii, indent=1)
        data = text.encode("utf-8", "surrogatepass")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:  # raw lone surrogates: not UTF-8, refused below
            continue
        assert _read(data, EXACT) == json.loads(text)
        if backend_for(io.BytesIO(data), lambda _: None) is FAST:
            assert _read(data, FAST) == json.loads(text)


@BACKENDS
def test_lone_surrogates_are_read_exactly(backend: ModuleType) -> None:
    data = json.dumps({"a": "\ud800 and \udfff, a pair \ud83c\udf89"}).encode()
    assert backend_for(io.BytesIO(data), lambda _: None) is EXACT
    assert _read(data, EXACT) == {"a": "\ud800 and \udfff, a pair 🎉"}
    paired = json.dumps({"a": "only pairs 🎉"}).encode()  # \ud83c\udf89 escapes
    assert backend_for(io.BytesIO(paired), lambda _: None) is FAST


@BACKENDS
def test_lists_come_item_by_item_after_an_empty_start(backend: ModuleType) -> None:
    data = b'{"format": "x", "items": [{"n": 0}, 1, [2]], "after": {"b": []}}'
    parts = [
        (p.key, p.index, p.value)
        for p in members(
            io.BytesIO(data),
            lists=("items",),
            build=("items",),
            step=lambda _: None,
            backend=backend,
        )
    ]
    assert parts == [
        ("format", None, None),  # not asked to be built
        ("items", None, []),
        ("items", 0, {"n": 0}),
        ("items", 1, 1),
        ("items", 2, [2]),
        ("after", None, None),
    ]


@BACKENDS
@pytest.mark.parametrize(
    ("data", "place", "reason"),
    [
        (b"", "the start of the file", "the file ends too soon"),
        (b"[1, 2]", "the file", NOT_AN_OBJECT),
        (b'"text"', "the file", NOT_AN_OBJECT),
        (b'{"a": 1', "a", "the file ends too soon"),
        (b'{"items": [{"x": 1}, {"y": tru}]}', "items[1].y", None),
        (b'{"items": [1,]}', "items[", None),
        (b'{"a": 1, "a": 2}', "a", "this member appears twice"),
        (b'{"a": 1} x', "the end of the file", None),
        (b'{"a": "\xff"}', "", "not UTF-8 text"),  # the exact backend decodes ahead
        (b'{"items": [{"n": 18446744073709551616}]}', "items[0].n", None),
        (b'{"items": [{"n": ' + b"9" * 5000 + b"}]}", "items[0].n", None),
        (b'{"n": 1e999}', "n", None),
        (b'{"n": NaN}', "n", None),
        (b'{"a": "x\x01y"}', "a", None),  # the exact backend raised json's own error
        (b'{"\x01": 1}', "", None),
    ],
)
def test_errors_say_where(backend: ModuleType, data: bytes, place: str, reason: str | None) -> None:
    with pytest.raises(JSONStreamError) as error:
        _read(data, backend)
    assert error.value.place.startswith(place)
    if reason is not None:
        assert error.value.reason == reason


def test_a_whole_number_past_64_bits_is_out_of_range_on_the_fast_backend() -> None:
    """A 5,000-digit number crashed yajl's process before ``use_float`` (ijson 3.6)."""
    for digits in (b"18446744073709551616", b"9" * 5000):
        with pytest.raises(JSONStreamError) as error:
            _read(b'{"items": [{"n": ' + digits + b"}]}", FAST)
        assert (error.value.place, error.value.reason) == ("items[0].n", BEYOND_64_BITS)
        assert error.value.out_of_range


def test_a_step_can_stop_the_parse() -> None:
    class Stop(Exception):
        pass

    seen: list[int] = []

    def step(done: int) -> None:
        seen.append(done)
        if len(seen) > 3:
            raise Stop

    data = json.dumps({"items": list(range(100_000))}).encode()
    with pytest.raises(Stop):
        for _ in members(io.BytesIO(data), lists=("items",), build=("items",), step=step):
            pass
    assert seen == sorted(seen)
