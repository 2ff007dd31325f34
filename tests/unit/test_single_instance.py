"""One owner per data directory; a second launch only wakes the first."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from chatdesk.single_instance import LOCK_FILE_NAME, SingleInstance


def test_second_instance_hands_over_to_the_first(qtbot: QtBot, tmp_path: Path) -> None:
    first = SingleInstance(tmp_path)
    assert first.acquire()
    second = SingleInstance(tmp_path)
    assert not second.acquire()
    with qtbot.waitSignal(first.activation_requested, timeout=3000):
        assert second.notify_running_instance()
    first.release()
    assert second.acquire()
    second.release()


def test_a_dead_owners_lock_is_taken_over(qapp: object, tmp_path: Path) -> None:
    # A lock file naming a process that no longer exists (PID far beyond pid_max).
    (tmp_path / LOCK_FILE_NAME).write_text("999999999\nchatdesk\nlocalhost\n")
    instance = SingleInstance(tmp_path)
    assert instance.acquire()
    instance.release()


def test_nobody_answers_when_no_instance_runs(qapp: object, tmp_path: Path) -> None:
    assert not SingleInstance(tmp_path).notify_running_instance()
