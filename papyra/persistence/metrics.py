"""Persistence metrics: thread-safe counters, gauges and histograms with a consistent snapshot.

Every backend owns one :class:`PersistenceMetrics`. Updates take one lock (a few hundred ns);
``snapshot()`` copies everything under the same lock, so the counters in one snapshot are
mutually consistent. Histograms use fixed bucket bounds (seconds or counts) so that exporters
(OpenTelemetry, Prometheus) can publish them without re-bucketing.

Counters and histograms are kept cumulative since the backend was created; ``reset()`` only
moves the base that ``snapshot()`` subtracts, so exporters (``snapshot(since_reset=False)``)
stay monotonic across a reset. ``last_write_timestamp`` is the wall-clock time (epoch seconds)
of the last increment of ``records_written`` (0.0 before the first write).
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["COUNTERS", "GAUGES", "HISTOGRAMS", "LATENCY_BOUNDS", "Histogram", "PersistenceMetrics"]

#: Monotonic counters every backend exposes, in snapshot order.
COUNTERS: tuple[str, ...] = (
    "records_written",
    "bytes_written",
    "write_errors",
    "fsyncs",
    "scans",
    "scan_errors",
    "anomalies_detected",
    "recoveries",
    "recovery_errors",
    "compactions",
    "compaction_errors",
    "torn_tails_truncated",
    "records_dropped",
    "reconnects",
    "lock_timeouts",
    "backpressure_rejections",
    "encoding_errors",
    "unreadable_lines_skipped",
)

#: Point-in-time values (set, not incremented).
GAUGES: tuple[str, ...] = ("pending", "queue_depth", "failed")

#: Bucket upper bounds (seconds) of every latency histogram, runtime ones included: 50 µs to 10 s.
LATENCY_BOUNDS: tuple[float, ...] = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)
_SIZE_BOUNDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
#: Histogram names and their bucket upper bounds.
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    "batch_size": _SIZE_BOUNDS,
    "fsync_seconds": LATENCY_BOUNDS,
    "write_seconds": LATENCY_BOUNDS,
}


class Histogram:
    """Fixed-bucket histogram (cumulative counts are derived at export). Not locked itself."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def copy(self) -> Histogram:
        twin = Histogram(self.bounds)
        twin.counts = list(self.counts)
        twin.count = self.count
        twin.sum = self.sum
        return twin

    def to_dict(self, base: Histogram | None = None) -> dict[str, Any]:
        """``{"count", "sum", "bounds", "counts"}``; minus ``base`` (an earlier copy) if given."""
        if base is None:
            base = Histogram(self.bounds)
        return {
            "count": self.count - base.count,
            "sum": max(0.0, self.sum - base.sum),
            "bounds": list(self.bounds),
            "counts": [c - b for c, b in zip(self.counts, base.counts, strict=True)],
        }


class PersistenceMetrics:
    """Counters, gauges and histograms of one backend.

    ``snapshot()`` returns a plain dict: every counter and gauge by name, ``last_write_timestamp``
    and a ``histograms`` entry. ``reset()`` zeroes counters and histograms as ``snapshot()`` shows
    them (gauges describe current state and are kept). All methods are thread-safe.
    """

    def __init__(self, backend: str = "") -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._values: dict[str, int] = dict.fromkeys(COUNTERS + GAUGES, 0)
        self._base: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._last_write = 0.0
        self._hist = {name: Histogram(bounds) for name, bounds in HISTOGRAMS.items()}
        self._hist_base = {name: Histogram(bounds) for name, bounds in HISTOGRAMS.items()}
        self._listeners: tuple[Callable[[str, float], None], ...] = ()

    def add_listener(self, listener: Callable[[str, float], None]) -> None:
        """Also pass every histogram observation to ``listener(name, value)`` (exporters use
        this to feed real histograms). Called outside the lock; must be fast and thread-safe."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Callable[[str, float], None]) -> None:
        """Stop passing observations to ``listener`` (found by ``==``, so the same bound method
        fetched again matches). O(listeners) under the lock."""
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x != listener)

    def incr(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to a counter."""
        self.add_many(**{name: amount})

    def add_many(self, **amounts: int) -> None:
        """Add several counters atomically (one lock round trip)."""
        now = time.time() if amounts.get("records_written") else 0.0
        with self._lock:
            for name, amount in amounts.items():
                self._values[name] += amount
            if now:
                self._last_write = now

    def set_gauge(self, name: str, value: int) -> None:
        with self._lock:
            self._values[name] = value

    def observe(self, name: str, value: float) -> None:
        """Record one observation in histogram ``name``."""
        with self._lock:
            self._hist[name].observe(value)
            listeners = self._listeners
        for listener in listeners:
            with contextlib.suppress(Exception):  # an exporter must never break the writer
                listener(name, value)

    def get(self, name: str) -> int:
        """A counter (since the last reset) or a gauge."""
        with self._lock:
            return self._values[name] - self._base.get(name, 0)

    def __getattr__(self, name: str) -> int:
        # Attribute access to counters (``metrics.records_written``) for convenience.
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return self.get(name)
        raise AttributeError(name)

    def snapshot(self, *, since_reset: bool = True) -> dict[str, Any]:
        """A consistent copy of every value, plus ``histograms``. Never raises.

        Counters and histograms count since the last :meth:`reset`, or since the backend was
        created with ``since_reset=False`` (what exporters publish: never decreasing).
        O(number of metrics) under the metrics lock."""
        with self._lock:
            snap: dict[str, Any] = dict(self._values)
            snap["last_write_timestamp"] = self._last_write
            if since_reset:
                for name, base in self._base.items():
                    snap[name] -= base
            snap["histograms"] = {
                name: h.to_dict(self._hist_base[name] if since_reset else None)
                for name, h in self._hist.items()
            }
        return snap

    def reset(self) -> None:
        """Zero every counter and histogram as :meth:`snapshot` shows them (the cumulative
        values behind ``snapshot(since_reset=False)`` go on). Gauges (current state) are kept."""
        with self._lock:
            self._base = {name: self._values[name] for name in COUNTERS}
            self._hist_base = {name: h.copy() for name, h in self._hist.items()}
