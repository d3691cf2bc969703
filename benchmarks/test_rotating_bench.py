"""RotatingFilePersistence against JsonFilePersistence: sustained durable throughput, same run.

Both backends get the same records from 4 producer threads (``record_event``), then ``flush()``,
with the same ``fsync`` setting (``"always"``: every batch fsynced before it is acknowledged).
The rotating backend rotates every ~5 MB (``max_bytes=5_000_000``, ``max_files=5``: in the full
run the set is full and every rotation also deletes the oldest file). Runs alternate between the
two backends and the best of each is compared: ``ratio = json_time / rotating_time`` (the
rotating backend's speed as a fraction of the JSON backend's). Target **≥ 0.8**, asserted only
with ``PAPYRA_BENCH_FULL=1`` (CI runs ``pytest benchmarks --benchmark-disable``: once, reported).

Sizes: default 60,000 records (~10 MB, one rotation), 2 rounds; ``PAPYRA_BENCH_FULL=1``:
400,000 records (~65 MB, a dozen rotations), 3 rounds.

    PAPYRA_BENCH_FULL=1 python -m pytest benchmarks/test_rotating_bench.py -s -p no:cacheprovider
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
N = 400_000 if FULL else 60_000
ROUNDS = 3 if FULL else 2
MAX_BYTES = 5_000_000
MAX_FILES = 5
TARGET = 0.8


def _record(i: int) -> PersistedEvent:
    return PersistedEvent(
        system_id="bench",
        actor_address=f"bench:{i % 1000}",
        event_type="ActorCrashed",
        payload={"i": i, "error": "RuntimeError: boom", "reason": "RuntimeError: boom", "tags": ["a", "b"]},
        timestamp=1.7e9 + i,
    )


def _timed_run(backend: Any, records: list[PersistedEvent]) -> float:
    per = len(records) // 4

    def produce(k: int) -> None:
        for r in records[k * per : (k + 1) * per]:
            backend.record_event(r)

    started = time.perf_counter()
    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert backend.flush()
    elapsed = time.perf_counter() - started
    backend.close()
    return elapsed


def test_rotating_durable_throughput_vs_json(benchmark: Any, tmp_path: Path) -> None:
    records = [_record(i) for i in range(N)]
    json_times: list[float] = []
    rot_times: list[float] = []
    rotated_files = 0
    for r in range(ROUNDS):
        json_path = tmp_path / f"json-{r}.ndjson"
        json_times.append(_timed_run(JsonFilePersistence(json_path, fsync="always"), records))
        total = json_path.stat().st_size
        json_path.unlink()
        rot_path = tmp_path / f"rot-{r}.ndjson"
        rot = RotatingFilePersistence(rot_path, fsync="always", max_bytes=MAX_BYTES, max_files=MAX_FILES)
        rot_times.append(_timed_run(rot, records))
        files = rot.files
        rotated_files = len(files)
        assert len(files) <= MAX_FILES and all(p.stat().st_size <= MAX_BYTES for p in files)
        assert sum(p.stat().st_size for p in files) <= total  # the oldest file may have been deleted
        for p in files:
            p.unlink()
    best_json, best_rot = min(json_times), min(rot_times)
    ratio = best_json / best_rot
    benchmark.extra_info.update(
        records=N,
        json_s=best_json,
        rotating_s=best_rot,
        json_per_s=round(N / best_json),
        rotating_per_s=round(N / best_rot),
        ratio=round(ratio, 3),
        files=rotated_files,
    )
    print(
        f"\n[rotating vs json, fsync=always, 4 producers] json {N / best_json:,.0f} rec/s, rotating "
        f"{N / best_rot:,.0f} rec/s (rotate every {MAX_BYTES / 1e6:g} MB) -> ratio {ratio:.2f} "
        f"(target >= {TARGET}; {N} records, best of {ROUNDS})"
    )

    def once() -> None:
        path = tmp_path / "rot-once.ndjson"
        _timed_run(
            RotatingFilePersistence(path, fsync="always", max_bytes=MAX_BYTES, max_files=MAX_FILES),
            records[: N // 4],
        )

    benchmark.pedantic(once, rounds=1, iterations=1)
    if FULL:
        assert ratio >= TARGET, f"rotating/json throughput ratio {ratio:.2f} < {TARGET}"
