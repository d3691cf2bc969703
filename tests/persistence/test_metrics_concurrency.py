"""PersistenceMetrics: thread-safe counters, consistent snapshots, documented reset."""

from __future__ import annotations

import threading

from papyra.persistence.metrics import COUNTERS, PersistenceMetrics


def test_eight_threads_of_100k_increments_lose_nothing() -> None:
    metrics = PersistenceMetrics("test")
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(100_000):
            metrics.incr("records_written")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert metrics.snapshot()["records_written"] == 800_000


def test_snapshot_is_consistent_across_counters_updated_together() -> None:
    metrics = PersistenceMetrics("test")
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            metrics.add_many(records_written=1, bytes_written=10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(2_000):
            snap = metrics.snapshot()
            assert snap["bytes_written"] == 10 * snap["records_written"]
    finally:
        stop.set()
        t.join()


def test_reset_zeroes_counters_and_histograms_but_keeps_gauges() -> None:
    metrics = PersistenceMetrics("test")
    for name in COUNTERS:
        metrics.incr(name, 3)
    metrics.observe("batch_size", 5)
    metrics.set_gauge("queue_depth", 7)
    metrics.reset()
    snap = metrics.snapshot()
    assert all(snap[name] == 0 for name in COUNTERS)
    assert snap["histograms"]["batch_size"]["count"] == 0
    assert snap["queue_depth"] == 7


def test_snapshot_is_a_copy() -> None:
    metrics = PersistenceMetrics("test")
    snap = metrics.snapshot()
    snap["records_written"] = 99
    assert metrics.snapshot()["records_written"] == 0
