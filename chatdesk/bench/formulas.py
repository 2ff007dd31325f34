"""A chat whose replies hold 500 formulas: what opening it costs, and how soon they show.

``python -m chatdesk.bench.formulas [--formulas N]`` writes two chats of the same
shape: one whose replies hold N formulas (five a reply, inline and displayed), and one
with the same replies in plain words. In a child process (offscreen) it opens each
chat, several times in turn, until its newest messages are painted, and reports the
median of each (``formula_open_thread_ms`` with ``plain_ms`` beside it: the formulas
are drawn off the GUI thread, so the two should be alike), then how long the formulas
on screen took to be drawn (``formulas_shown_ms``) and how many were drawn.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_REPLY = 5
OPENS = 5


def _reply(n: int, math: bool) -> str:
    if not math:
        return (
            f"Step {n}: the area under the curve is one third, the sum of the first n "
            "numbers is n times n plus one over two, and so on for the rest of it.\n\n"
            "The roots follow from the usual formula, and the series converges."
        )
    return (
        f"Step {n}: the area is $\\int_0^1 x^{{{n % 7 + 2}}}\\,dx$, the sum "
        f"$\\sum_{{k=1}}^{{{n}}} k = \\frac{{{n}({n}+1)}}{{2}}$ and so on.\n\n"
        f"$$x_{{{n}}} = \\frac{{-b \\pm \\sqrt{{b^2-4ac}}}}{{2a}}$$\n\n"
        f"Then \\(e^{{i\\pi {n}}}\\) and \\[\\lim_{{m \\to \\infty}} (1 + 1/m)^{{{n}m}}\\]."
    )


def build_chats(data_dir: Path, formulas: int) -> tuple[int, int]:
    """The chat with formulas and the plain one; their ids."""
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store
    from chatdesk.vocabulary import Role

    store = open_store(f"sqlite:///{data_dir / 'chatdesk.db'}")
    try:
        services = Services(store, attachments_dir=data_dir / "attachments")
        user = services.users.ensure()
        ids = []
        for math in (True, False):
            thread = services.threads.create(user, "Formulas" if math else "Plain")
            for n in range(max(formulas // PER_REPLY, 1)):
                services.messages.send(user, thread.id, f"And step {n}?", triggers_execution=False)
                services.messages.send(
                    user, thread.id, _reply(n, math), triggers_execution=False, role=Role.ASSISTANT
                )
            ids.append(thread.id)
        return ids[0], ids[1]
    finally:
        store.close()


def _child(data_dir: Path, with_math: int, plain: int) -> None:
    from chatdesk.bench.probe import PaintWatcher, wait_until
    from chatdesk.bench.window import open_window

    bench = open_window(data_dir)
    app, window = bench.app, bench.window
    view = window.message_view
    watcher = PaintWatcher(view.viewport())
    drawn: list[float] = []
    window.formulas.ready.connect(lambda: drawn.append(time.perf_counter()))

    def open_ms(thread_id: int) -> float:
        window.on_thread_selected(0)
        app.processEvents()
        watcher.reset()
        started = time.perf_counter()
        window.on_thread_selected(thread_id)
        wait_until(app, lambda: watcher.painted_at is not None)
        assert watcher.painted_at is not None
        return (watcher.painted_at - started) * 1000

    times: dict[int, list[float]] = {with_math: [], plain: []}
    first = True
    shown_ms = 0.0
    for _ in range(OPENS):
        for thread_id in (plain, with_math):
            drawn.clear()
            started = time.perf_counter()
            times[thread_id].append(open_ms(thread_id))
            if thread_id == with_math and first:  # the first time: none drawn yet
                first = False
                wait_until(app, lambda: bool(drawn) and time.perf_counter() - drawn[-1] > 0.5)
                shown_ms = (drawn[-1] - started) * 1000
    report = {
        "math_ms": statistics.median(times[with_math]),
        "plain_ms": statistics.median(times[plain]),
        "shown_ms": shown_ms,
    }
    bench.close()
    print(json.dumps(report))


def bench_formulas(formulas: int) -> None:
    from chatdesk.bench.probe import emit

    with tempfile.TemporaryDirectory(prefix="chatdesk-formulas-") as name:
        data_dir = Path(name) / "data"
        data_dir.mkdir(mode=0o700)
        with_math, plain = build_chats(data_dir, formulas)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "chatdesk.bench.formulas", "--child"),
                *(str(data_dir), str(with_math), str(plain)),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
            env={**os.environ, "CHATDESK_DATA_DIR": str(data_dir)},
        )
        if done.returncode != 0:
            raise RuntimeError(f"the formula child failed:\n{done.stderr[-3000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
    emit(
        "formula_open_thread_ms",
        report["math_ms"],
        "ms",
        formulas=formulas,
        plain_ms=round(report["plain_ms"], 1),
    )
    emit("formulas_shown_ms", report["shown_ms"], "ms", note="first open, until drawn")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatdesk.bench.formulas", description=__doc__)
    parser.add_argument("--formulas", type=int, default=500)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(Path(args.child[0]), int(args.child[1]), int(args.child[2]))
        return
    bench_formulas(args.formulas)


if __name__ == "__main__":
    main()
