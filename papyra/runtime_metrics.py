"""Runtime metrics of an :class:`~papyra.system.ActorSystem` (``system.metrics``).

``snapshot()`` returns a plain dict with these stable names (exporters rely on them):

Counters (monotonic since start or the last ``reset()``; ``snapshot(since_reset=False)`` gives
them, and the histogram, since the system started — what exporters publish):

* ``actors_spawned_total``, ``actors_stopped_total``
* ``messages_processed_total`` — user messages handled by ``receive`` (success or failure)
* ``actor_crashes_total`` — failures handled by supervision (``receive``/``on_start`` raised,
  escalations included); ``actor_restarts_total`` — successful restarts
* ``dead_letters_total``; ``dead_letters_evicted_total`` — evicted from the bounded ring
* ``recorder_failures_total`` — backend ``record_*`` calls that raised;
  ``recorder_drops_total`` — records dropped because the recorder queue was full or closed

Gauges (current values; ``reset()`` does not touch them):

* ``actors_alive``, ``workers`` (live worker threads), ``workers_peak``, ``recorder_queue_depth``
* ``mailbox_depth`` — ``{actor class qualname: messages accepted but not yet started, summed over
  its live actors}`` (the message being processed is not counted)

Histogram:

* ``ask_latency_seconds`` — ``{"bounds": [...], "counts": [...], "count": n, "sum": s}``;
  ``counts[i]`` is the number of asks with latency ≤ ``bounds[i]`` and above the previous bound,
  the last slot counts everything above the largest bound (non-cumulative).

Cost: counters live on each actor (written only by its own worker) and are summed at snapshot
time; ask latencies go to a per-thread histogram. No lock is taken per message; ``snapshot()``
takes the system lock briefly and is O(live actors + threads that ever asked).
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from papyra.persistence.metrics import LATENCY_BOUNDS

__all__ = ["ASK_LATENCY_BOUNDS", "COUNTER_NAMES", "RuntimeMetrics"]

#: The bucket bounds of ``ask_latency_seconds`` (the same as every Papyra latency histogram).
ASK_LATENCY_BOUNDS: tuple[float, ...] = LATENCY_BOUNDS

COUNTER_NAMES: tuple[str, ...] = (
    "actors_spawned_total",
    "actors_stopped_total",
    "messages_processed_total",
    "actor_crashes_total",
    "actor_restarts_total",
    "dead_letters_total",
    "dead_letters_evicted_total",
    "recorder_failures_total",
    "recorder_drops_total",
)


class _ThreadHistogram:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(ASK_LATENCY_BOUNDS) + 1)
        self.total = 0.0


class _Local(threading.local):
    hist: _ThreadHistogram | None = None


class RuntimeMetrics:
    """Counters/gauges/histogram of one system (see the module docstring). Thread-safe."""

    def __init__(self, collect: Callable[[], dict[str, Any]]) -> None:
        self._collect = collect
        self._tls = _Local()
        self._hist_lock = threading.Lock()
        self._histograms: list[_ThreadHistogram] = []
        self._base_counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self._base_hist: tuple[list[int], float] = ([0] * (len(ASK_LATENCY_BOUNDS) + 1), 0.0)
        self._reset_lock = threading.Lock()
        self._listeners: tuple[Callable[[str, float], None], ...] = ()

    def after_fork(self) -> None:
        """In a forked child: fresh locks (the parent's may have been held by a thread that
        does not exist here)."""
        self._hist_lock = threading.Lock()
        self._reset_lock = threading.Lock()

    def add_listener(self, listener: Callable[[str, float], None]) -> None:
        """Also pass every ask latency to ``listener("ask_latency_seconds", seconds)`` (used by
        the OpenTelemetry bridge). Called on the asking thread; must be fast and thread-safe.
        O(listeners) under the histogram lock."""
        with self._hist_lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Callable[[str, float], None]) -> None:
        """Stop passing ask latencies to ``listener`` (found by ``==``, so the same bound method
        fetched again matches). O(listeners) under the histogram lock."""
        with self._hist_lock:
            self._listeners = tuple(x for x in self._listeners if x != listener)

    def observe_ask(self, seconds: float) -> None:
        """Record one ask round trip (lock-free: a per-thread histogram)."""
        for listener in self._listeners:
            with contextlib.suppress(Exception):  # an exporter must never break an ask
                listener("ask_latency_seconds", seconds)
        hist = self._tls.hist
        if hist is None:
            hist = _ThreadHistogram()
            self._tls.hist = hist
            with self._hist_lock:
                self._histograms.append(hist)
        hist.counts[bisect.bisect_left(ASK_LATENCY_BOUNDS, seconds)] += 1
        hist.total += seconds

    def _raw_hist(self) -> tuple[list[int], float]:
        counts = [0] * (len(ASK_LATENCY_BOUNDS) + 1)
        total = 0.0
        with self._hist_lock:
            hists = list(self._histograms)
        for h in hists:
            for i, c in enumerate(h.counts):
                counts[i] += c
            total += h.total
        return counts, total

    def snapshot(self, *, since_reset: bool = True) -> dict[str, Any]:
        """A plain dict of every metric (names in the module docstring); counters and the
        histogram since the last :meth:`reset`, or since start with ``since_reset=False``.
        Cost: the system lock briefly, O(live actors + threads that ever asked)."""
        raw = self._collect()
        counts, total = self._raw_hist()
        with self._reset_lock:
            base = dict(self._base_counters)
            base_counts, base_total = self._base_hist
        if not since_reset:
            base = dict.fromkeys(base, 0)
            base_counts, base_total = [0] * len(base_counts), 0.0
        out: dict[str, Any] = {}
        for name in COUNTER_NAMES:
            out[name] = int(raw.get(name, 0)) - base[name]
        for name in ("actors_alive", "workers", "workers_peak", "recorder_queue_depth", "mailbox_depth"):
            out[name] = raw.get(name, 0)
        hist_counts = [c - b for c, b in zip(counts, base_counts, strict=True)]
        out["ask_latency_seconds"] = {
            "bounds": list(ASK_LATENCY_BOUNDS),
            "counts": hist_counts,
            "count": sum(hist_counts),
            "sum": max(0.0, total - base_total),
        }
        return out

    def reset(self) -> None:
        """Zero the counters and the histogram (gauges are live values and stay).
        Cost: as :meth:`snapshot`."""
        raw = self._collect()
        counts, total = self._raw_hist()
        with self._reset_lock:
            self._base_counters = {name: int(raw.get(name, 0)) for name in COUNTER_NAMES}
            self._base_hist = (counts, total)
