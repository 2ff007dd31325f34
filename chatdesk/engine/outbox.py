"""The worker's single writer of protocol events (thread-safe, one flushed line each).

Why one place: events come from many threads at once (the stdin reader, each run's
thread, CrewAI's handler pool), and three rules must hold for every run whatever the
interleaving: ``seq`` grows by one per event *in the order the lines are written*;
nothing is written after a run's terminal event (so after ``cancelled`` no stray
``chunk`` can follow); no run event leaves unredacted (a provider may echo the key);
and a broken pipe (the GUI is gone) ends the worker.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from chatdesk.engine.event_redaction import redact_event
from chatdesk.engine.protocol import Event, RunEvent, encode, is_terminal

# How many finished run ids to remember (to drop their late events).
_CLOSED_MEMORY = 10_000


class Outbox:
    def __init__(self, stream: BinaryIO, on_broken_pipe: Callable[[], None] | None = None):
        self._stream = stream
        self._lock = threading.Lock()
        self._seq: dict[str, int] = {}
        self._closed: dict[str, None] = {}  # insertion-ordered set
        self._on_broken_pipe = on_broken_pipe or _exit_quietly

    def send(self, event: Event) -> None:
        """Write an event that belongs to no run (ready, pong)."""
        with self._lock:
            self._write(encode(event))

    def run_event(self, run_id: str, make: Callable[[int], RunEvent]) -> bool:
        """Write ``make(seq)`` for ``run_id`` unless the run already ended.

        ``make`` runs under the lock, so the seq it gets is the order of the line.
        Returns whether the event was written.
        """
        with self._lock:
            if run_id in self._closed:
                return False
            seq = self._seq.get(run_id, 0) + 1
            event = redact_event(make(seq))
            self._seq[run_id] = seq
            if is_terminal(event):
                self._seq.pop(run_id, None)
                self._closed[run_id] = None
                if len(self._closed) > _CLOSED_MEMORY:
                    self._closed.pop(next(iter(self._closed)))
            self._write(encode(event))
            return True

    def is_closed(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._closed

    def _write(self, line: bytes) -> None:
        try:
            self._stream.write(line)
            self._stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._on_broken_pipe()


def _exit_quietly() -> None:
    """The GUI closed our stdout: nobody is listening, so stop at once."""
    try:
        sys.stderr.write("chatdesk worker: event pipe closed, exiting\n")
        sys.stderr.flush()
    finally:
        os._exit(0)
