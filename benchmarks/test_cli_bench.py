"""Operator CLI on a big store: constant memory, seeks instead of scans, fast follow start.

* peak RSS growth (VmHWM, fresh subprocess, after imports) of ``inspect summary``,
  ``inspect events --event-type`` / ``--actor`` (ndjson to /dev/null) and ``inspect timeline``:
  **< 64 MiB**, recorded side by side with the store size;
* ``list_events(since=<last 15 minutes>)`` (binary search) vs the full read it replaces:
  **at least 100 times** faster (asserted in full-size runs only);
* ``--follow`` start: the newest 3 events of the store (``FileTail.initial``), **< 0.2 s**
  (asserted in full-size runs only; the process start-up itself is not included).

The store is written by a fast raw writer (pre-formatted NDJSON lines in the record grammar,
spread evenly over the last :data:`SPAN` seconds — 30 days — the last one "now"). Default size
20 MiB (the CI smoke run); ``PAPYRA_BENCH_FULL=1``: 1 GiB::

    PAPYRA_BENCH_FULL=1 python -m pytest benchmarks/test_cli_bench.py -s -p no:cacheprovider
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
TARGET_BYTES = 1024**3 if FULL else 20 * 1024**2
ROOT = Path(__file__).resolve().parents[1]
LIMIT_MIB = 64
SPAN = 30 * 86400.0

_LINE = (
    '{{"kind":"event","system_id":"local","actor_address":"local:{a}","event_type":"{t}",'
    '"payload":{{"n":{n},"note":"{pad}"}},"timestamp":{ts:.3f}}}\n'
)
_TYPES = ("ActorStarted", "ActorStopped", "ActorCrashed", "ActorRestarted")


def _write_store(path: Path, target: int) -> int:
    """Write about ``target`` bytes of events ending now; returns the record count."""
    probe = _LINE.format(a=0, t=_TYPES[0], n=0, pad="x" * 80, ts=time.time())
    count = max(1, target // len(probe))
    step = SPAN / count
    start = time.time() - SPAN
    pad = "x" * 80
    with path.open("w", encoding="utf-8") as f:
        chunk: list[str] = []
        for n in range(count):
            chunk.append(_LINE.format(a=n % 997, t=_TYPES[n % 4], n=n, pad=pad, ts=start + n * step))
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))
    return count


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("cli-bench") / "big.ndjson"
    count = _write_store(path, TARGET_BYTES)
    return path, count


_PEAK = r"""
import os, sys
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
import papyra.cli.app, papyra.persistence.json, papyra.cli.commands.inspect, papyra.cli.commands.timeline
base = hwm()
with open(os.devnull, "w") as sink:
    code = papyra.cli.app.run(sys.argv[1:], stdout=sink, stderr=sink, environ=dict(os.environ))
print(code, hwm() - base)
"""


def _peak_growth(*args: str) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(
        [sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, env=env, cwd=str(ROOT),
        timeout=3600, check=True,
    )
    code, growth = r.stdout.split()
    assert code == "0", r.stderr
    return int(growth)


@pytest.mark.parametrize(
    "command",
    [
        ("inspect", "summary"),
        ("inspect", "events", "--event-type", "ActorCrashed", "--format", "ndjson"),
        ("inspect", "events", "--actor", "local:7", "--format", "ndjson"),
        ("inspect", "events", "--format", "json"),
        ("inspect", "timeline", "--bucket", "1h"),
    ],
    ids=" ".join,
)
def test_inspect_memory_is_constant(big_store: tuple[Path, int], command: tuple[str, ...]) -> None:
    path, count = big_store
    growth = _peak_growth(*command, "--path", str(path))
    size = path.stat().st_size
    print(f"\n[cli memory] {' '.join(command)}: store {size / 2**20:.0f} MiB ({count} records), "
          f"peak RSS growth {growth / 2**20:.1f} MiB")
    assert growth < LIMIT_MIB * 2**20


def test_since_seeks_instead_of_reading_the_store(big_store: tuple[Path, int]) -> None:
    from papyra.persistence.json import JsonFilePersistence

    path, count = big_store
    backend = JsonFilePersistence(path)
    try:
        newest = backend.list_events(limit=1)[0].timestamp
        since = newest - 900.0  # --since 15m
        t0 = time.perf_counter()
        recent = backend.list_events(since=since)
        t_seek = time.perf_counter() - t0
        t0 = time.perf_counter()
        everything = sum(1 for _ in backend.stream_records())
        t_full = time.perf_counter() - t0
    finally:
        backend.close()
    assert everything == count and 0 < len(recent) <= count
    ratio = t_full / t_seek
    print(f"\n[cli seek] store {path.stat().st_size / 2**20:.0f} MiB: --since (last {newest - since:.0f} s, "
          f"{len(recent)} records) {t_seek * 1000:.1f} ms vs full read {t_full:.2f} s: {ratio:.0f}x")
    if FULL:
        assert ratio >= 100


def test_follow_starts_from_the_tail(big_store: tuple[Path, int]) -> None:
    from papyra.cli.filetail import FileTail

    path, _count = big_store
    tail = FileTail(path)
    try:
        t0 = time.perf_counter()
        first = tail.initial(lambda r: True, 3, None)
        elapsed = time.perf_counter() - t0
    finally:
        tail.close()
    assert len(first) == 3
    size = path.stat().st_size / 2**20
    print(f"\n[cli follow] store {size:.0f} MiB: newest 3 events in {elapsed * 1000:.1f} ms")
    if FULL:
        assert elapsed < 0.2
