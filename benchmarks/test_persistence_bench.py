"""JsonFilePersistence against raw msgspec loops on the same data, same run (ratios).

Each test alternates papyra rounds with rounds of a raw reference loop
(``benchmarks.measure.side_by_side``) and records its figure (``benchmarks.figures``), papyra's
speed as a fraction of the raw loop's, in ``extra_info``:

* ``durable_write_vs_raw`` — ``fsync="always"``, 4 producer threads, then ``flush()``, vs msgspec
  encode + write in 1,000-record chunks + one fsync per chunk;
* ``scan_vs_raw`` — ``scan()`` vs a raw msgspec typed-decode loop over the same file;
* ``compaction_vs_raw`` — ``compact()`` keeping half vs raw decode + encode (kept half) + write +
  fsync;
* ``list_tail_vs_scan`` — ``list_events(limit=100)`` vs a full ``scan()`` (how many times faster).

Also checked (not a ratio): peak RSS growth (VmHWM, in a fresh subprocess) of scan and compaction
**< 64 MiB**, also for a 10x larger file.

Sizes: default 50,000 records (memory check: 500,000); ``PAPYRA_BENCH_FULL=1``: 500,000
(memory check: 5,000,000, ~1.3 GB on disk).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from benchmarks.measure import side_by_side
from benchmarks.workloads import crash_record, produce_and_flush
from papyra.persistence.grammar import encode_record
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from papyra.persistence.retention import RetentionPolicy

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
N = 500_000 if FULL else 50_000
N_DURABLE = 500_000 if FULL else 20_000
N_MEMORY = 10 * N
ROUNDS = 7 if FULL else 1
ROOT = Path(__file__).resolve().parents[1]

_DECODER = msgspec.json.Decoder(PersistedEvent | PersistedAudit | PersistedDeadLetter)


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
                chunk.append(encode_record(crash_record(i)))
            if len(chunk) >= 10_000:
                f.write(b"".join(chunk))
                chunk.clear()
        f.write(b"".join(chunk))


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "store.ndjson"
    _write_store(path, N)
    return path


def test_durable_throughput(benchmark: Any, tmp_path: Path) -> None:
    records = [crash_record(i) for i in range(N_DURABLE)]
    raw_path = tmp_path / "raw.ndjson"
    path = tmp_path / "papyra.ndjson"
    enc = msgspec.json.Encoder()

    def raw() -> None:
        raw_path.unlink(missing_ok=True)
        fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        for start in range(0, len(records), 1000):
            os.write(fd, b"".join(enc.encode(r) + b"\n" for r in records[start : start + 1000]))
            os.fsync(fd)
        os.close(fd)

    def papyra() -> None:
        backend = JsonFilePersistence(path, fsync="always")
        produce_and_flush(backend, records)
        backend.close()
        assert os.path.getsize(path) == os.path.getsize(raw_path)

    side_by_side(benchmark, papyra, {"durable_write_vs_raw": raw}, rounds=ROUNDS,
                 prepare=lambda: path.unlink(missing_ok=True),
                 work=N_DURABLE, unit="records")


def test_scan(benchmark: Any, store_file: Path) -> None:
    def raw() -> None:
        count = 0
        with open(store_file, "rb") as f:
            for line in f:
                _DECODER.decode(line)
                count += 1
        assert count == N

    backend = JsonFilePersistence(store_file)
    side_by_side(benchmark, lambda: backend.scan(), {"scan_vs_raw": raw}, rounds=ROUNDS, work=N,
                 unit="records")


def test_compaction_keeping_half(benchmark: Any, store_file: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "raw-out.ndjson"
    path = tmp_path / "compact.ndjson"
    enc = msgspec.json.Encoder()

    def raw() -> None:  # decode everything, re-encode the newest half, write, fsync
        with open(store_file, "rb") as f, open(out_path, "wb") as out:
            for i, line in enumerate(f):
                rec = _DECODER.decode(line)
                if i >= N // 2:
                    out.write(enc.encode(rec) + b"\n")
            out.flush()
            os.fsync(out.fileno())

    def papyra() -> None:
        report = JsonFilePersistence(path, retention_policy=RetentionPolicy(max_records=N // 2)).compact()
        assert report.after_records == N // 2 and report.before_records == N
        assert os.path.getsize(path) == os.path.getsize(out_path)

    side_by_side(benchmark, papyra, {"compaction_vs_raw": raw}, rounds=ROUNDS,
                 prepare=lambda: shutil.copyfile(store_file, path), work=N, unit="records")


def test_list_limit_reads_only_the_tail(benchmark: Any, store_file: Path) -> None:
    backend = JsonFilePersistence(store_file)
    calls = 20

    def papyra() -> None:
        for _ in range(calls):
            events = backend.list_events(limit=100)
            assert len(events) == 100 and events[-1].timestamp == 1.7e9 + N - 3

    # figure: how many times faster one tail read is than one full scan
    side_by_side(benchmark, papyra, {"list_tail_vs_scan": lambda: backend.scan()}, rounds=ROUNDS,
                 scale=calls)


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
