"""Seek by time: binary search over byte offsets finds where ``since`` starts, reading a few
lines instead of the file; reads that use it return exactly the records a full scan would."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest

from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.grammar import encode_record
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedAudit, PersistedEvent
from papyra.persistence.seek import DISORDER_WINDOW, seek_since

T0 = 1_800_000_000.0


def _event(i: int, ts: float) -> PersistedEvent:
    return PersistedEvent(actor_address=f"local:{i}", event_type="ActorStarted", payload={"i": i},
                          timestamp=ts)


def _lines(stamps: list[float]) -> tuple[bytes, list[int]]:
    """NDJSON bytes of one event per stamp, and each line's offset."""
    out, offsets, pos = [], [], 0
    for i, ts in enumerate(stamps):
        line = encode_record(_event(i, ts))
        offsets.append(pos)
        out.append(line)
        pos += len(line)
    return b"".join(out), offsets


class CountingReader(io.BytesIO):
    """A file whose reads are counted (bytes), to assert on work done instead of time."""

    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data

    def fileno(self) -> int:
        raise io.UnsupportedOperation


@pytest.mark.parametrize("since_index", [0, 1, 7, 5000, 12345, 19999, 20000])
def test_seek_reads_a_few_lines_and_never_skips_a_record_at_or_after_since(since_index: int) -> None:
    stamps = [T0 + i for i in range(20000)]
    data, offsets = _lines(stamps)
    f = CountingReader(data)
    since = T0 + since_index - 0.5
    start = seek_since(f, since, size=len(data), window=0)
    assert start in offsets or start in (0, len(data))
    assert start <= (offsets[since_index] if since_index < len(offsets) else len(data))
    assert start >= (offsets[since_index] if since_index < len(offsets) else len(data)) - 4096 - 200
    assert f.read_bytes < 200 * 1024  # log2(n) probes of a line or two each, not the 2.8 MB file


def test_records_out_of_order_within_the_window_are_found() -> None:
    rng = random.Random(7)
    stamps = [T0 + i for i in range(5000)]
    for _ in range(300):  # local disorder: swap neighbours a few lines apart
        i = rng.randrange(10, len(stamps))
        j = i - rng.randrange(1, 10)
        stamps[i], stamps[j] = stamps[j], stamps[i]
    data, offsets = _lines(stamps)
    for since in (T0 + 100.5, T0 + 2500.5, T0 + 4990.5):
        f = io.BytesIO(data)
        start = seek_since(f, since, size=len(data))  # the default window (>> 10 lines)
        first = min(k for k, ts in enumerate(stamps) if ts >= since)
        assert start <= offsets[first]


def test_window_bounds_the_extra_read() -> None:
    data, offsets = _lines([T0 + i for i in range(20000)])
    f = io.BytesIO(data)
    start = seek_since(f, T0 + 15000, size=len(data))
    assert offsets[15000] - DISORDER_WINDOW - 4096 - 400 <= start <= offsets[15000]


def _fill(backend: Any, stamps: list[float]) -> None:
    try:
        for i, ts in enumerate(stamps):
            if i % 10 == 9:
                backend.record_audit(PersistedAudit(timestamp=ts, total_actors=i))
            else:
                backend.record_event(_event(i, ts))
        backend.flush()
    finally:
        backend.close()


@pytest.mark.parametrize("kind", ["json", "rotating"])
def test_list_since_equals_exact_filtering_with_disorder_and_bad_lines(tmp_path: Path, kind: str) -> None:
    rng = random.Random(3)
    stamps = [T0 + i + rng.uniform(-3, 3) for i in range(3000)]  # writers' clocks a few s apart
    path = tmp_path / "s.ndjson"

    def open_backend() -> Any:
        if kind == "json":
            return JsonFilePersistence(path)
        return RotatingFilePersistence(path, max_bytes=40_000, max_files=50)

    _fill(open_backend(), stamps)
    with path.open("ab") as f:
        f.write(b"{not json}\n\n")
    backend = open_backend()
    try:
        everything = list(backend.list_events())
        for since in (T0 - 10, T0 + 17.2, T0 + 1500, T0 + 2999, T0 + 5000):
            expected = [e for e in everything if e.timestamp >= since]
            assert list(backend.list_events(since=since)) == expected
            assert list(backend.list_events(since=since, limit=5)) == expected[-5:]
            streamed = list(backend.stream_records((PersistedEvent,), since=since))
            assert streamed == expected[::-1]
    finally:
        backend.close()
