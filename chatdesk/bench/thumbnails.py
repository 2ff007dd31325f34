"""A chat of a thousand photos: how scrolling it feels and what the window holds.

``python -m chatdesk.bench.thumbnails [--images N]`` writes N distinct JPEG photos
(1600x1200, each different), sends each in its own message of one chat with a short
reply under it, then, in a child process, opens the window (offscreen) on that chat
and scrolls it from the newest message to the oldest, a wheel step per frame, painting
each frame. The thumbnails are decoded off the GUI thread while it scrolls, so a frame
measures what the window does, not the decoding. JSON lines:
``thumbnail_scroll_frame_ms_p99`` (with the median and the longest frame),
``thumbnail_gui_rss_mb`` (the window's resident memory at the end, and its peak) and
``thumbnails_decoded`` (how many pictures came in while it scrolled).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIDE = (1600, 1200)
WHEEL_STEPS = 3


def write_photos(directory: Path, count: int, seed: int = 11) -> list[Path]:
    """``count`` distinct JPEGs: coloured blocks over a gradient, so each decodes in full."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize(SIDE).convert("RGB")
    paths = []
    for n in range(count):
        image = base.copy()
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(SIDE[0]), rng.randrange(SIDE[1])
            w, h = rng.randrange(80, 600), rng.randrange(80, 500)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        path = directory / f"photo-{n:04d}.jpg"
        image.save(path, "JPEG", quality=85)
        paths.append(path)
    return paths


def build_chat(data_dir: Path, photos: list[Path]) -> int:
    """One chat: a message per photo and a reply under each; its id."""
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store
    from chatdesk.vocabulary import Role

    store = open_store(f"sqlite:///{data_dir / 'chatdesk.db'}")
    try:
        services = Services(store, attachments_dir=data_dir / "attachments")
        user = services.users.ensure()
        thread = services.threads.create(user, "A thousand photos")
        for n, photo in enumerate(photos):
            record = services.attachments.add(user, photo)
            services.messages.send(
                user, thread.id, f"Photo {n}", triggers_execution=False, attachments=[record]
            )
            services.messages.send(
                user,
                thread.id,
                f"A reply about photo {n}.",
                triggers_execution=False,
                role=Role.ASSISTANT,
            )
        return thread.id
    finally:
        store.close()


def _child(data_dir: Path, thread_id: int) -> None:
    """Runs in the child: the window on the chat, the scroll; prints one JSON line."""
    from chatdesk.bench.probe import wait_until
    from chatdesk.bench.window import open_window

    bench = open_window(data_dir)
    app, window = bench.app, bench.window
    window.on_thread_selected(thread_id)
    view = window.message_view
    model = view.model()
    names = {bytes(n.data()).decode(): r for r, n in model.roleNames().items()}
    decoded: list[int] = []
    window.bubble_thumbnails.ready.connect(decoded.append)

    def top_message_id() -> int:
        index = view.indexAt(view.viewport().rect().topLeft())
        return int(model.data(index, names["messageId"]) or 0)

    wait_until(app, lambda: top_message_id() != 0)
    frames: list[float] = []
    bar = view.verticalScrollBar()
    still = 0
    while still < 20 and len(frames) < 100_000:  # until paging up brings no more
        before = top_message_id()
        started = time.perf_counter()
        bar.setValue(bar.value() - WHEEL_STEPS * bar.singleStep())
        app.processEvents()
        view.viewport().repaint()
        frames.append((time.perf_counter() - started) * 1000)
        still = still + 1 if top_message_id() == before and bar.value() == 0 else 0
    wait_until(app, lambda: not window.tasks.running(), timeout_s=120)
    frames.sort()
    report = {
        "frames": len(frames),
        "p99_ms": frames[int(len(frames) * 0.99) - 1],
        "median_ms": statistics.median(frames),
        "max_ms": frames[-1],
        "decoded": len(decoded),
        "rss_mb": _current_rss_mb(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "top_message_id": top_message_id(),
    }
    bench.close()
    print(json.dumps(report))


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_thumbnails(images: int) -> None:
    from chatdesk.bench.probe import emit

    with tempfile.TemporaryDirectory(prefix="chatdesk-thumbnails-") as name:
        directory = Path(name)
        photos_dir = directory / "photos"
        photos_dir.mkdir()
        data_dir = directory / "data"
        data_dir.mkdir(mode=0o700)
        photos = write_photos(photos_dir, images)
        thread_id = build_chat(data_dir, photos)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "chatdesk.bench.thumbnails",
                "--child",
                str(data_dir),
                str(thread_id),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
            env={**os.environ, "CHATDESK_DATA_DIR": str(data_dir)},
        )
        if done.returncode != 0:
            raise RuntimeError(f"the thumbnail child failed:\n{done.stderr[-3000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
    emit(
        "thumbnail_scroll_frame_ms_p99",
        report["p99_ms"],
        "ms",
        images=images,
        frames=report["frames"],
        median=round(report["median_ms"], 2),
        max=round(report["max_ms"], 1),
    )
    emit("thumbnail_gui_rss_mb", report["rss_mb"], "MB", peak=round(report["peak_rss_mb"], 1))
    emit("thumbnails_decoded", report["decoded"], "images", of=images)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatdesk.bench.thumbnails", description=__doc__
    )
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(Path(args.child[0]), int(args.child[1]))
        return
    bench_thumbnails(args.images)


if __name__ == "__main__":
    main()
