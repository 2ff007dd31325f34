"""What a commit announces to the other desktops: ids only, each payload under
PostgreSQL's limit, and anything else on the channel refused (``services.announce``)."""

from __future__ import annotations

import json

import pytest

from chatdesk.services.announce import (
    MAX_PAYLOAD_BYTES,
    Announced,
    StopRequest,
    decode,
    encode,
)
from chatdesk.services.events import Change, ChangeKind, Entity


def _change(kind: ChangeKind, entity: Entity, id_: int) -> Change:
    return Change(kind, entity, id_, 7, 3, {"content": "never sent"}, record=object())


def test_a_payload_carries_ids_and_the_sender_only() -> None:
    changes = [
        _change(ChangeKind.CREATED, Entity.MESSAGE, 1),
        _change(ChangeKind.STATUS_CHANGED, Entity.EXECUTION, 2),
        _change(ChangeKind.CREATED, Entity.EXECUTION_LOG, 3),
        _change(ChangeKind.DELETED, Entity.THREAD, 7),
    ]
    [payload] = encode("me", changes)
    assert "never sent" not in payload
    announcement = decode(payload)
    assert announcement.sender == "me" and announcement.stop is None
    assert announcement.changes == (
        Announced(ChangeKind.CREATED, Entity.MESSAGE, 1, 7, 3),
        Announced(ChangeKind.STATUS_CHANGED, Entity.EXECUTION, 2, 7, 3),
        Announced(ChangeKind.CREATED, Entity.EXECUTION_LOG, 3, 7, 3),
        Announced(ChangeKind.DELETED, Entity.THREAD, 7, 7, 3),
    )


def test_repeats_prompts_and_stop_requests_are_not_announced() -> None:
    changes = [
        _change(ChangeKind.UPDATED, Entity.MESSAGE, 1),
        _change(ChangeKind.UPDATED, Entity.MESSAGE, 1),
        _change(ChangeKind.CREATED, Entity.PROMPT, 5),
        _change(ChangeKind.STOP_REQUESTED, Entity.EXECUTION, 2),
    ]
    [payload] = encode("me", changes)
    assert [c.id for c in decode(payload).changes] == [1]
    assert list(encode("me", [])) == []


def test_many_changes_are_cut_into_payloads_under_the_limit_in_order() -> None:
    changes = [_change(ChangeKind.CREATED, Entity.MESSAGE, 2**31 - 1 - i) for i in range(5000)]
    payloads = list(encode("x" * 40, changes))
    assert len(payloads) > 10
    assert all(len(p.encode()) <= MAX_PAYLOAD_BYTES for p in payloads)
    assert [c.id for p in payloads for c in decode(p).changes] == [c.id for c in changes]


def test_a_stop_request_reads_back() -> None:
    payload = json.dumps({"v": 1, "from": "b", "stop": [4, 7, 3, "host|boot|1|2|tok"]})
    assert decode(payload).stop == StopRequest(4, 7, 3, "host|boot|1|2|tok")


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "null",
        "42",
        '"text"',
        '{"v": 1}',
        '{"v": 1, "from": "", "x": []}',
        '{"v": 1, "from": 5, "x": []}',
        '{"v": 1, "from": "a", "x": {}}',
        '{"v": 1, "from": "a", "x": [["m", "c", 1, 2]]}',
        '{"v": 1, "from": "a", "x": [["q", "c", 1, 2, 3]]}',
        '{"v": 1, "from": "a", "x": [["m", "z", 1, 2, 3]]}',
        '{"v": 1, "from": "a", "x": [["m", "c", true, 2, 3]]}',
        '{"v": 1, "from": "a", "x": [["m", "c", 1.5, 2, 3]]}',
        '{"v": 1, "from": "a", "x": [["m", "c", 2147483648, 2, 3]]}',
        '{"v": 1, "from": "a", "stop": [1, 2, 3]}',
        '{"v": 1, "from": "a", "stop": [1, 2, 3, 4]}',
        '{"v": 2, "from": "a", "x": []}',
        "[" * 100_000,
    ],
)
def test_anything_else_is_refused(payload: str) -> None:
    with pytest.raises(ValueError):
        decode(payload)
