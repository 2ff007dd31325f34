"""``load_in_steps`` reads what ``json.loads`` reads and refuses what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatdesk.services.json_steps import load_in_steps

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_SPACE = st.sampled_from(["", " ", "\n", "\t\r\n  "])


def _load(text: str) -> tuple[Any, list[int]]:
    seen: list[int] = []
    return load_in_steps(text, seen.append), seen


@given(_VALUES, st.booleans(), _SPACE)
def test_same_value_as_json_loads(value: Any, indent: bool, space: str) -> None:
    text = space + json.dumps(value, indent=2 if indent else None) + space
    loaded, steps = _load(text)
    assert loaded == json.loads(text)
    assert steps == sorted(steps) and steps[-1] == len(text)


def test_lists_in_the_top_object_are_read_item_by_item() -> None:
    text = json.dumps({"format": "x", "messages": [{"n": n} for n in range(5)], "empty": []})
    loaded, steps = _load(text)
    assert loaded["messages"][4] == {"n": 4}
    assert len(steps) >= 5 + 3


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "{",
        '{"a": 1',
        '{"a" 1}',
        '{"a": 1 "b": 2}',
        '{"a": [1, 2}',
        '{"a": [1 2]}',
        '{"a": [1,]}',
        "{a: 1}",
        '{"a": 1,}',
        '{"a": 1} x',
        "[1] 2",
        "\ufeff{}",
        '{"a": [{"b": nul}]}',
    ],
)
def test_the_same_errors_as_json_loads(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        _load(text)
    assert (got.value.lineno, got.value.colno) == (expected.value.lineno, expected.value.colno)


def test_a_step_can_stop_the_parse() -> None:
    class Stop(Exception):
        pass

    def step(pos: int) -> None:
        if pos > 20:
            raise Stop

    with pytest.raises(Stop):
        load_in_steps(json.dumps({"messages": list(range(100))}), step)
