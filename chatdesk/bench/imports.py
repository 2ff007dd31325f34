"""How much memory and time importing a big export takes, measured in a fresh process.

``python -m chatdesk.bench.imports [--messages N]`` writes an export of N messages
(replies of about a kilobyte, as a long chat has) a line at a time, imports it in a
child process into a new database, and prints JSON lines: ``import_file_mb``,
``import_peak_rss_mb`` (the child's peak resident memory, interpreter and libraries
included), ``import_rss_growth_mb`` (peak minus the child's size before importing) and
``import_messages_per_s`` (per second of the clock, and per second of CPU, which a busy
machine disturbs less). The import streams its file, so the peak should not follow
the file's size; tests call ``measure_import`` on smaller files to hold it to that.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORDS = (
    "python lisbon regex error train hotel cache stream token agent garden budget "
    "review coffee castle window query index model river"
).split()


@dataclass(frozen=True)
class ImportMeasure:
    file_mb: float
    messages: int
    seconds: float
    cpu_seconds: float
    rss_before_mb: float
    peak_rss_mb: float


def write_big_export(path: Path, messages: int, reply_words: int = 150) -> Path:
    """A valid export of ``messages`` messages (half questions, half replies), streamed."""
    rng = random.Random(13)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        head = {"format": "chatdesk-thread", "version": 1}
        thread = {"title": "Big import", "crew": "assistant", "model": "openai/gpt-4o-mini"}
        out.write(json.dumps(head)[:-1] + ',\n"thread": ' + json.dumps(thread))
        out.write(',\n"executions": [')
        for n in range((messages + 1) // 2):
            at = (start + timedelta(seconds=2 * n)).isoformat()
            run: dict[str, object] = {
                "ref": n + 1,
                "crew": "assistant",
                "status": "completed",
                "created_at": at,
            }
            run.update(started_at=at, finished_at=at, prompt_tokens=40, completion_tokens=200)
            out.write(("," if n else "") + "\n  " + json.dumps(run))
        out.write('\n],\n"messages": [')
        for n in range(messages):
            at = (start + timedelta(seconds=n)).isoformat()
            words = reply_words if n % 2 else max(reply_words // 8, 1)
            message: dict[str, object] = {
                "role": "assistant" if n % 2 else "user",
                "content": " ".join(rng.choice(WORDS) for _ in range(words)),
                "status": "completed",
                "triggers_execution": n % 2 == 0,
                "execution": n // 2 + 1,
                "metadata": {},
                "created_at": at,
                "updated_at": at,
            }
            out.write(("," if n else "") + "\n  " + json.dumps(message))
        out.write("\n]}\n")
    return path


def measure_import(export: Path, directory: Path, timeout: float = 900) -> ImportMeasure:
    """Import ``export`` into a new database under ``directory`` in a child process."""
    database = directory / f"import-{time.monotonic_ns()}.db"
    command = [sys.executable, "-m", "chatdesk.bench.imports", "--child", str(database)]
    command.append(str(export))
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the import child failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return ImportMeasure(
        file_mb=export.stat().st_size / 1e6,
        messages=report["messages"],
        seconds=report["seconds"],
        cpu_seconds=report["cpu_seconds"],
        rss_before_mb=report["rss_before_mb"],
        peak_rss_mb=report["peak_rss_mb"],
    )


def _peak_rss_mb() -> float:
    """This process's peak resident memory.

    Linux's ``VmHWM`` belongs to the process's own memory map, which ``execve`` makes
    new; ``ru_maxrss`` is inherited across fork and exec, so a child of a big parent
    (a long pytest run) would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(database: Path, export: Path) -> None:
    """Runs in the child: open a store, import, print one JSON line."""
    from chatdesk.services import Services
    from chatdesk.store.migrate import open_store

    store = open_store(f"sqlite:///{database}")
    services = Services(store)
    user_id = services.users.ensure()
    before = _peak_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = services.transfer.import_file(user_id, export)
    seconds = time.perf_counter() - started
    report = {
        "messages": result.messages,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_started,
        "rss_before_mb": before,
        "peak_rss_mb": _peak_rss_mb(),
    }
    store.close()
    print(json.dumps(report))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatdesk.bench.imports", description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    bench_import(args.messages)


def bench_import(messages: int) -> None:
    """Write, import and report (the JSON lines of the module doc)."""
    from chatdesk.bench.probe import emit

    with tempfile.TemporaryDirectory(prefix="chatdesk-import-bench-") as name:
        directory = Path(name)
        export = write_big_export(directory / "big.json", messages)
        measure = measure_import(export, directory)
    emit("import_file_mb", measure.file_mb, "MB", messages=measure.messages)
    emit("import_peak_rss_mb", measure.peak_rss_mb, "MB", file_mb=round(measure.file_mb, 1))
    emit("import_rss_growth_mb", measure.peak_rss_mb - measure.rss_before_mb, "MB")
    emit("import_messages_per_s", measure.messages / measure.seconds, "messages/s")
    emit("import_messages_per_cpu_s", measure.messages / measure.cpu_seconds, "messages/s")


if __name__ == "__main__":
    main()
