"""Cost of instrumentation: the same workload with OpenTelemetry instrumentation off and on.

Groups (each "on" figure next to its "off" reference in the same run):

* ``otel-durable-write`` — 4 producer threads write N records each into a
  ``JsonFilePersistence(fsync="always")``, then ``flush()``. "On" = ``papyra.contrib.otel.instrument``
  on the backend with an SDK ``MeterProvider`` and an in-memory reader (every batch feeds the
  histograms) plus a collection after the run.
* ``otel-tell`` — N ``tell``s into one actor then one ``ask``; "on" instruments the ``ActorSystem``.

Target: overhead (on / off - 1) ≤ 5 % each. Rounds alternate off/on so that machine noise hits
both sides alike; the ratio uses the medians. Sizes are modest by default (CI runs
``--benchmark-disable``); ``PAPYRA_BENCH_FULL=1`` for the recorded figures::

    PAPYRA_BENCH_FULL=1 python -m pytest benchmarks/test_observability_bench.py --benchmark-only -s
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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
ROUNDS = 7 if FULL else 2

TIMINGS: dict[str, list[float]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"instrumentation overhead (FULL={FULL}; medians; target <= 5%):"]
    for label, off, on in (
        ("durable write, 4 producers", "write-off", "write-on"),
        ("actor tell throughput", "tell-off", "tell-on"),
    ):
        if TIMINGS.get(off) and TIMINGS.get(on):
            t_off = statistics.median(TIMINGS[off])
            t_on = statistics.median(TIMINGS[on])
            lines.append(
                f"  {label}: on/off = {t_on / t_off:.3f} (overhead {100 * (t_on / t_off - 1):+.1f}%;"
                f" off {t_off * 1e3:.1f} ms, on {t_on * 1e3:.1f} ms)"
            )
    for line in lines:
        if reporter is not None:
            reporter.write_line(line)


def _write_round(path: Path, instrumented: bool) -> float:
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


def _alternate(benchmark: Any, name: str, fn: Callable[[bool], float]) -> None:
    def run() -> None:
        for instrumented in (False, True):
            TIMINGS.setdefault(f"{name}-{'on' if instrumented else 'off'}", []).append(fn(instrumented))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)


@pytest.mark.benchmark(group="otel-durable-write")
def test_durable_write_instrumentation_overhead(benchmark: Any, tmp_path: Path) -> None:
    _alternate(benchmark, "write", lambda on: _write_round(tmp_path / "bench.ndjson", on))


@pytest.mark.benchmark(group="otel-tell")
def test_tell_instrumentation_overhead(benchmark: Any) -> None:
    _alternate(benchmark, "tell", _tell_round)
