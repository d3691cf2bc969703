"""Persistence metrics: thread-safe counters, gauges and histograms with a consistent snapshot.

Every backend owns one :class:`PersistenceMetrics`. Updates take one lock (a few hundred ns);
``snapshot()`` copies everything under the same lock, so the counters in one snapshot are
mutually consistent. Histograms use fixed bucket bounds (seconds or counts) so that exporters
(OpenTelemetry, Prometheus) can publish them without re-bucketing.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["COUNTERS", "GAUGES", "HISTOGRAMS", "Histogram", "PersistenceMetrics"]

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

#: Histogram names and their bucket upper bounds.
_LATENCY_BOUNDS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)
_SIZE_BOUNDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    "batch_size": _SIZE_BOUNDS,
    "fsync_seconds": _LATENCY_BOUNDS,
    "write_seconds": _LATENCY_BOUNDS,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sum": self.sum,
            "bounds": list(self.bounds),
            "counts": list(self.counts),
        }


class PersistenceMetrics:
    """Counters, gauges and histograms of one backend.

    ``snapshot()`` returns a plain dict: every counter and gauge by name plus a ``histograms``
    entry. ``reset()`` zeroes counters and histograms (gauges describe current state and are
    kept). All methods are thread-safe.
    """

    def __init__(self, backend: str = "") -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._values: dict[str, int] = dict.fromkeys(COUNTERS + GAUGES, 0)
        self._hist = {name: Histogram(bounds) for name, bounds in HISTOGRAMS.items()}
        self._listeners: tuple[Callable[[str, float], None], ...] = ()

    def add_listener(self, listener: Callable[[str, float], None]) -> None:
        """Also pass every histogram observation to ``listener(name, value)`` (exporters use
        this to feed real histograms). Called outside the lock; must be fast and thread-safe."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Callable[[str, float], None]) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

    def incr(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to a counter."""
        with self._lock:
            self._values[name] += amount

    def add_many(self, **amounts: int) -> None:
        """Add several counters atomically (one lock round trip)."""
        with self._lock:
            for name, amount in amounts.items():
                self._values[name] += amount

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
        with self._lock:
            return self._values[name]

    def __getattr__(self, name: str) -> int:
        # Attribute access to counters (``metrics.records_written``) for convenience.
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return int(values[name])
        raise AttributeError(name)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of every value, plus ``histograms``. Never raises."""
        with self._lock:
            snap: dict[str, Any] = dict(self._values)
            snap["histograms"] = {name: h.to_dict() for name, h in self._hist.items()}
        return snap

    def reset(self) -> None:
        """Zero every counter and histogram. Gauges (current state) are kept."""
        with self._lock:
            for name in COUNTERS:
                self._values[name] = 0
            self._hist = {name: Histogram(bounds) for name, bounds in HISTOGRAMS.items()}
