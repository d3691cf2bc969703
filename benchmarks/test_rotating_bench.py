"""RotatingFilePersistence against JsonFilePersistence: sustained durable throughput, same run.

Both backends get the same records from 4 producer threads (``record_event``), then ``flush()``,
with the same ``fsync`` setting (``"always"``: every batch fsynced before it is acknowledged).
The rotating backend rotates every ~5 MB (``max_bytes=5_000_000``, ``max_files=5``: in the full
run the set is full and every rotation also deletes the oldest file). Runs alternate between the
two backends (``benchmarks.measure.side_by_side``); the figure ``rotating_vs_json`` is
``median json time / median rotating time`` (the rotating backend's speed as a fraction of the
JSON backend's). CI runs ``pytest benchmarks --benchmark-disable``: one round of each.

Sizes: default 60,000 records (~10 MB, one rotation); ``PAPYRA_BENCH_FULL=1``: 400,000 records
(~65 MB, a dozen rotations), 5 rounds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.measure import side_by_side
from benchmarks.workloads import crash_record, produce_and_flush
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
N = 400_000 if FULL else 60_000
ROUNDS = 5 if FULL else 1
MAX_BYTES = 5_000_000
MAX_FILES = 5


def test_rotating_durable_throughput_vs_json(benchmark: Any, tmp_path: Path) -> None:
    records = [crash_record(i) for i in range(N)]
    json_path = tmp_path / "json.ndjson"
    rot_path = tmp_path / "rot.ndjson"
    json_size = [0]
    rotated_files = [0]

    def reference() -> None:
        json_path.unlink(missing_ok=True)
        backend = JsonFilePersistence(json_path, fsync="always")
        produce_and_flush(backend, records)
        backend.close()
        json_size[0] = json_path.stat().st_size

    def rotating() -> None:
        rot = RotatingFilePersistence(rot_path, fsync="always", max_bytes=MAX_BYTES, max_files=MAX_FILES)
        produce_and_flush(rot, records)
        rot.close()
        files = rot.files
        rotated_files[0] = len(files)
        assert len(files) <= MAX_FILES and all(p.stat().st_size <= MAX_BYTES for p in files)
        assert sum(p.stat().st_size for p in files) <= json_size[0]  # the oldest may have been deleted
        for p in files:
            p.unlink()

    side_by_side(benchmark, rotating, {"rotating_vs_json": reference}, rounds=ROUNDS, work=N, unit="records")
    benchmark.extra_info["files"] = rotated_files[0]
