"""Cost of instrumentation: the same workload with OpenTelemetry instrumentation off and on.

Figures (each "on" workload next to the same workload "off" in the same run; rounds alternate,
``benchmarks.measure.side_by_side``; figure = off time / on time, so 0.95 is a 5 % overhead):

* ``otel_write_overhead`` — 4 producer threads write N records each into a
  ``JsonFilePersistence(fsync="always")``, then ``flush()``. "On" = ``papyra.contrib.otel.instrument``
  on the backend with an SDK ``MeterProvider`` and an in-memory reader (every batch feeds the
  histograms) plus a collection after the run.
* ``otel_tell_overhead`` — N ``tell``s into one actor then one ``ask``; "on" instruments the
  ``ActorSystem``.

Target: overhead ≤ 5 % each (figure ≥ 0.95). Sizes are modest by default (CI runs
``--benchmark-disable``: one round each); ``PAPYRA_BENCH_FULL=1`` for the tracked sizes.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.measure import side_by_side
from papyra.actor import Actor
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent
from papyra.system import ActorSystem

sdk_metrics = pytest.importorskip("opentelemetry.sdk.metrics")
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402

from papyra.contrib.otel import instrument  # noqa: E402

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
RECORDS_PER_PRODUCER = 25_000 if FULL else 2_000
PRODUCERS = 4
TELLS = 100_000 if FULL else 10_000
ROUNDS = 11 if FULL else 1


def _write_round(path: Path, instrumented: bool) -> float:
    """One round; returns the seconds from the producers' start to the flushed (and exported) end."""
    backend = JsonFilePersistence(path, fsync="always")
    provider = None
    handle = None
    if instrumented:
        reader = InMemoryMetricReader()
        provider = sdk_metrics.MeterProvider(metric_readers=[reader])
        handle = instrument(backend, meter_provider=provider)
    records = [
        PersistedEvent(system_id="bench", actor_address=f"bench:{i}", event_type="ActorStarted",
                       payload={"i": i}, timestamp=1_700_000_000.0 + i)
        for i in range(RECORDS_PER_PRODUCER)
    ]
    barrier = threading.Barrier(PRODUCERS + 1)

    def produce() -> None:
        barrier.wait()
        for record in records:
            backend.record_event(record)

    threads = [threading.Thread(target=produce) for _ in range(PRODUCERS)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    assert backend.flush(timeout=120)
    if instrumented:
        reader.get_metrics_data()  # one export
    elapsed = time.perf_counter() - started
    assert backend.metrics.snapshot()["records_written"] == PRODUCERS * RECORDS_PER_PRODUCER
    if handle is not None:
        handle.uninstrument()
    if provider is not None:
        provider.shutdown()
    backend.close()
    path.unlink()
    return elapsed


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        if message == "get":
            return self.count
        self.count += 1
        return None


def _tell_round(instrumented: bool) -> float:
    """One round; returns the seconds of the tells and the final ask (system start/stop excluded)."""
    with ActorSystem(system_id="bench") as system:
        provider = None
        handle = None
        if instrumented:
            reader = InMemoryMetricReader()
            provider = sdk_metrics.MeterProvider(metric_readers=[reader])
            handle = instrument(system, meter_provider=provider)
        ref = system.spawn(Counter, mailbox_capacity=None)
        started = time.perf_counter()
        for _ in range(TELLS):
            ref.tell("inc")
        assert ref.ask("get", timeout=60) == TELLS
        if instrumented:
            reader.get_metrics_data()
        elapsed = time.perf_counter() - started
        if handle is not None:
            handle.uninstrument()
        if provider is not None:
            provider.shutdown()
    return elapsed


def test_durable_write_instrumentation_overhead(benchmark: Any, tmp_path: Path) -> None:
    path = tmp_path / "bench.ndjson"
    side_by_side(
        benchmark,
        lambda: _write_round(path, True),
        {"otel_write_overhead": lambda: _write_round(path, False)},
        rounds=ROUNDS, work=PRODUCERS * RECORDS_PER_PRODUCER, unit="records",
    )


def test_tell_instrumentation_overhead(benchmark: Any) -> None:
    side_by_side(
        benchmark, lambda: _tell_round(True), {"otel_tell_overhead": lambda: _tell_round(False)},
        rounds=ROUNDS, work=TELLS, unit="messages",
    )
