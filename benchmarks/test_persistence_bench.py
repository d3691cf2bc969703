"""JsonFilePersistence against raw msgspec loops on the same data, same run (ratios).

Each benchmark times papyra with pytest-benchmark and a raw reference loop with
``time.perf_counter`` right next to it, and records ``ratio = raw_time / papyra_time`` (papyra's
speed as a fraction of the raw loop's) in ``extra_info`` and on stdout. Targets (asserted only
with ``PAPYRA_BENCH_FULL=1``; CI runs every benchmark once with ``--benchmark-disable``):

* durable throughput (``fsync="always"``, 4 producer threads, then ``flush()``) vs msgspec encode +
  write in 1,000-record chunks + one fsync per chunk: **≥ 0.5**;
* ``scan()`` vs a raw msgspec typed-decode loop over the same file: **≥ 0.5**;
* ``compact()`` keeping half vs raw decode + encode (kept half) + write + fsync: **≥ 0.33**;
* peak RSS growth (VmHWM, in a fresh subprocess) of scan and compaction **< 64 MiB**, also for a
  10x larger file;
* ``list_events(limit=100)`` **≥ 50x** faster than a full ``scan()``.

Sizes: default 50,000 records (memory check: 500,000); ``PAPYRA_BENCH_FULL=1``: 1,000,000
(memory check: 10,000,000, ~2.6 GB on disk).

    PAPYRA_BENCH_FULL=1 python -m pytest benchmarks/test_persistence_bench.py -s -p no:cacheprovider
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from papyra.persistence.grammar import encode_record
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from papyra.persistence.retention import RetentionPolicy

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
N = 1_000_000 if FULL else 50_000
N_DURABLE = 1_000_000 if FULL else 20_000
N_MEMORY = 10 * N
ROOT = Path(__file__).resolve().parents[1]

_DECODER = msgspec.json.Decoder(PersistedEvent | PersistedAudit | PersistedDeadLetter)


def _record(i: int) -> PersistedEvent:
    return PersistedEvent(
        system_id="bench",
        actor_address=f"bench:{i % 1000}",
        event_type="ActorCrashed",
        payload={"i": i, "error": "RuntimeError: boom", "reason": "RuntimeError: boom", "tags": ["a", "b"]},
        timestamp=1.7e9 + i,
    )


def _write_store(path: Path, n: int) -> None:
    """Generate an n-record store in bounded memory (events with a few audits/dead letters)."""
    with open(path, "wb") as f:
        chunk: list[bytes] = []
        for i in range(n):
            if i % 100 == 99:
                chunk.append(encode_record(PersistedAudit(timestamp=1.7e9 + i, total_actors=i % 50)))
            elif i % 100 == 98:
                dl = PersistedDeadLetter(target="bench:1", payload="x", timestamp=1.7e9 + i)
                chunk.append(encode_record(dl))
            else:
                chunk.append(encode_record(_record(i)))
            if len(chunk) >= 10_000:
                f.write(b"".join(chunk))
                chunk.clear()
        f.write(b"".join(chunk))


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "store.ndjson"
    _write_store(path, N)
    return path


def _report(benchmark: Any, name: str, raw: float, papyra: float, target: float) -> float:
    ratio = raw / papyra if papyra > 0 else float("inf")
    benchmark.extra_info.update({f"{name}_raw_s": raw, f"{name}_papyra_s": papyra, f"{name}_ratio": ratio})
    print(f"\n[{name}] raw {raw:.3f}s  papyra {papyra:.3f}s  ratio {ratio:.2f} (target >= {target})")
    if FULL:
        assert ratio >= target, f"{name}: ratio {ratio:.2f} below target {target}"
    return ratio


def test_durable_throughput(benchmark: Any, tmp_path: Path) -> None:
    records = [_record(i) for i in range(N_DURABLE)]

    # raw reference: encode + write 1,000-record chunks + fsync per chunk
    raw_path = tmp_path / "raw.ndjson"
    t0 = time.perf_counter()
    fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    enc = msgspec.json.Encoder()
    for start in range(0, len(records), 1000):
        os.write(fd, b"".join(enc.encode(r) + b"\n" for r in records[start : start + 1000]))
        os.fsync(fd)
    os.close(fd)
    raw = time.perf_counter() - t0

    timings: list[float] = []

    def run() -> None:
        path = tmp_path / f"papyra-{len(timings)}.ndjson"
        backend = JsonFilePersistence(path, fsync="always")
        per = len(records) // 4
        t = time.perf_counter()

        def produce(k: int) -> None:
            for r in records[k * per : (k + 1) * per]:
                backend.record_event(r)

        threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert backend.flush()
        timings.append(time.perf_counter() - t)
        backend.close()
        assert os.path.getsize(path) == os.path.getsize(raw_path)

    benchmark.pedantic(run, rounds=1, iterations=1)
    _report(benchmark, "durable_throughput", raw, min(timings), 0.5)


def test_scan(benchmark: Any, store_file: Path) -> None:
    t0 = time.perf_counter()
    count = 0
    with open(store_file, "rb") as f:
        for line in f:
            _DECODER.decode(line)
            count += 1
    raw = time.perf_counter() - t0
    assert count == N

    backend = JsonFilePersistence(store_file)
    timings: list[float] = []

    def run() -> None:
        t = time.perf_counter()
        assert not backend.scan().has_anomalies
        timings.append(time.perf_counter() - t)

    benchmark.pedantic(run, rounds=1, iterations=1)
    _report(benchmark, "scan", raw, min(timings), 0.5)


def test_compaction_keeping_half(benchmark: Any, store_file: Path, tmp_path: Path) -> None:
    # raw reference: decode everything, re-encode the newest half, write, fsync
    out_path = tmp_path / "raw-out.ndjson"
    enc = msgspec.json.Encoder()
    t0 = time.perf_counter()
    with open(store_file, "rb") as f, open(out_path, "wb") as out:
        for i, line in enumerate(f):
            rec = _DECODER.decode(line)
            if i >= N // 2:
                out.write(enc.encode(rec) + b"\n")
        out.flush()
        os.fsync(out.fileno())
    raw = time.perf_counter() - t0

    timings: list[float] = []

    def run() -> None:
        path = tmp_path / "compact.ndjson"
        shutil.copyfile(store_file, path)
        backend = JsonFilePersistence(path, retention_policy=RetentionPolicy(max_records=N // 2))
        t = time.perf_counter()
        report = backend.compact()
        timings.append(time.perf_counter() - t)
        assert report.after_records == N // 2 and report.before_records == N
        assert os.path.getsize(path) == os.path.getsize(out_path)

    benchmark.pedantic(run, rounds=1, iterations=1)
    _report(benchmark, "compaction_half", raw, min(timings), 0.33)


def test_list_limit_reads_only_the_tail(benchmark: Any, store_file: Path) -> None:
    backend = JsonFilePersistence(store_file)
    t0 = time.perf_counter()
    backend.scan()
    full_scan = time.perf_counter() - t0
    timings: list[float] = []

    def run() -> None:
        for _ in range(20):
            t = time.perf_counter()
            events = backend.list_events(limit=100)
            timings.append(time.perf_counter() - t)
            assert len(events) == 100 and events[-1].timestamp == 1.7e9 + N - 3

    benchmark.pedantic(run, rounds=1, iterations=1)
    _report(benchmark, "list_limit_100_vs_scan", full_scan, sorted(timings)[len(timings) // 2], 50)


_MEMORY_CHILD = r"""
import sys, time
from pathlib import Path
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.retention import RetentionPolicy

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")

path = Path(sys.argv[1]); n = int(sys.argv[2])
backend = JsonFilePersistence(path, retention_policy=RetentionPolicy(max_records=n // 2))
backend.list_events(limit=1)  # warm up imports and code paths
base = hwm()
assert not backend.scan().has_anomalies
after_scan = hwm()
report = backend.compact()
assert report.after_records == n // 2, report
after_compact = hwm()
print(after_scan - base, after_compact - base)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("scale", [1, 10], ids=["1x", "10x"])
def test_peak_memory_growth(benchmark: Any, tmp_path: Path, scale: int) -> None:
    n = N if scale == 1 else N_MEMORY
    path = tmp_path / "store.ndjson"
    _write_store(path, n)
    result: dict[str, int] = {}

    def run() -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(path), str(n)],
            capture_output=True, text=True, env=env, check=True, timeout=3600,
        ).stdout.split()
        result["scan"], result["compact"] = int(out[0]), int(out[1])

    benchmark.pedantic(run, rounds=1, iterations=1)
    limit = 64 * 1024 * 1024
    size = os.path.getsize(path)
    benchmark.extra_info.update(file_bytes=size, scan_growth=result["scan"], compact_growth=result["compact"])
    print(f"\n[memory {scale}x] file {size / 2**20:.0f} MiB: peak RSS growth scan "
          f"{result['scan'] / 2**20:.1f} MiB, compaction {result['compact'] / 2**20:.1f} MiB (limit 64 MiB)")
    assert result["scan"] < limit and result["compact"] < limit
