"""OpenTelemetry bridge with the real SDK: exact values per target on one provider, across
``metrics.reset()`` and re-instrumentation; histograms in seconds with second-scale buckets."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from papyra.actor import Actor
from papyra.contrib.catalog import PERSISTENCE_METRICS, RUNTIME_METRICS
from papyra.contrib.otel import instrument
from papyra.exceptions import ConfigurationError
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.metrics import LATENCY_BOUNDS
from papyra.persistence.models import PersistedEvent
from papyra.system import ActorSystem

Points = dict[str, dict[frozenset[tuple[str, Any]], Any]]


def collect(reader: InMemoryMetricReader) -> Points:
    """``{instrument name: {frozenset(attributes): data point}}`` of one collection."""
    out: Points = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points = out.setdefault(metric.name, {})
                for point in metric.data.data_points:
                    points[frozenset(point.attributes.items())] = point
    return out


def values(points: Points, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
    return {attrs: point.value for attrs, point in points.get(name, {}).items()}


def attrs(**kw: str) -> frozenset[tuple[str, Any]]:
    return frozenset((f"papyra.{k}", v) for k, v in kw.items())


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    reader.provider = provider  # type: ignore[attr-defined]
    yield reader
    provider.shutdown()


def provider_of(reader: InMemoryMetricReader) -> MeterProvider:
    provider: MeterProvider = reader.provider  # type: ignore[attr-defined]
    return provider


def write(backend: Any, n: int) -> None:
    for i in range(n):
        backend.record_event(PersistedEvent(timestamp=float(i)))
    assert backend.flush(timeout=30)


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


def test_two_systems_and_two_backends_on_one_provider_report_exact_values_each(
    reader: InMemoryMetricReader, tmp_path: Path
) -> None:
    provider = provider_of(reader)
    b1 = JsonFilePersistence(tmp_path / "one.ndjson")
    b2 = JsonFilePersistence(tmp_path / "two.ndjson")
    with ActorSystem(system_id="alpha") as s1, ActorSystem(system_id="beta") as s2:
        handles = [instrument(t, provider) for t in (b1, b2, s1, s2)]
        write(b1, 5)
        write(b2, 2)
        r1 = s1.spawn(Echo)
        r2 = s2.spawn(Echo)
        for i in range(3):
            assert r1.ask(i, timeout=60) == i
        assert r2.ask("x", timeout=60) == "x"
        points = collect(reader)
        a1 = attrs(backend="json", store=str(b1.path))
        a2 = attrs(backend="json", store=str(b2.path))
        assert values(points, "papyra.persistence.records.written") == {a1: 5, a2: 2}
        assert values(points, "papyra.persistence.up") == {a1: 1, a2: 1}
        assert values(points, "papyra.actor.messages.processed") == {
            attrs(system_id="alpha"): 3,
            attrs(system_id="beta"): 1,
        }
        asks = points["papyra.actor.ask.duration"]
        assert {k: p.count for k, p in asks.items()} == {
            attrs(system_id="alpha"): 3,
            attrs(system_id="beta"): 1,
        }
        batches = points["papyra.persistence.batch.size"]
        assert {k: p.sum for k, p in batches.items()} == {a1: 5, a2: 2}
        for handle in handles:
            handle.uninstrument()
    b1.close()
    b2.close()


def test_counters_stay_monotonic_and_complete_across_metrics_reset(reader: InMemoryMetricReader) -> None:
    backend = InMemoryPersistence()
    with ActorSystem(system_id="resets") as system:
        instrument(backend, provider_of(reader))
        instrument(system, provider_of(reader))
        ref = system.spawn(Echo)
        write(backend, 5)
        for i in range(4):
            ref.ask(i, timeout=60)
        assert values(collect(reader), "papyra.persistence.records.written") == {
            attrs(backend="memory", store="memory"): 5
        }
        backend.metrics.reset()
        system.metrics.reset()
        write(backend, 8)
        for i in range(2):
            ref.ask(i, timeout=60)
        points = collect(reader)
        assert backend.metrics.snapshot()["records_written"] == 8  # the snapshot is since the reset
        series = attrs(backend="memory", store="memory")
        assert values(points, "papyra.persistence.records.written") == {series: 13}
        assert values(points, "papyra.actor.messages.processed") == {attrs(system_id="resets"): 6}
        (point,) = points["papyra.actor.ask.duration"].values()
        assert point.count == 6


def test_reinstrumenting_a_reopened_backend_continues_its_series(
    reader: InMemoryMetricReader, tmp_path: Path
) -> None:
    provider = provider_of(reader)
    path = tmp_path / "store.ndjson"
    first = JsonFilePersistence(path)
    handle = instrument(first, provider)
    write(first, 5)
    series = attrs(backend="json", store=str(path))
    assert values(collect(reader), "papyra.persistence.records.written") == {series: 5}
    handle.uninstrument()
    first.close()
    # between the two, the series is not reported
    assert series not in values(collect(reader), "papyra.persistence.up")
    reopened = JsonFilePersistence(path)  # the re-open-after-failure path
    handle = instrument(reopened, provider)
    write(reopened, 3)
    points = collect(reader)
    assert values(points, "papyra.persistence.records.written") == {series: 8}
    assert values(points, "papyra.persistence.up") == {series: 1}
    (batches,) = points["papyra.persistence.batch.size"].values()
    assert batches.sum == 8  # the SDK's histogram goes on as well
    for n in (2, 4, 6):  # more failure/re-open cycles, the old backends garbage collected
        handle.uninstrument()
        reopened.close()
        del reopened
        gc.collect()
        reopened = JsonFilePersistence(path)
        handle = instrument(reopened, provider)
        write(reopened, n)
    assert values(collect(reader), "papyra.persistence.records.written") == {series: 8 + 2 + 4 + 6}
    handle.uninstrument()
    reopened.close()


def test_instrument_is_idempotent_and_the_same_target_can_come_back(reader: InMemoryMetricReader) -> None:
    provider = provider_of(reader)
    backend = InMemoryPersistence()
    handle = instrument(backend, provider)
    assert instrument(backend, provider) is handle
    write(backend, 4)
    backend.metrics.observe("fsync_seconds", 0.002)
    points = collect(reader)
    series = attrs(backend="memory", store="memory")
    assert values(points, "papyra.persistence.records.written") == {series: 4}
    assert points["papyra.persistence.fsync.duration"][series].count == 1  # not doubled
    handle.uninstrument()
    handle.uninstrument()  # idempotent
    write(backend, 1)  # counted by the backend while not instrumented
    again = instrument(backend, provider)
    assert again is not handle and again.active and not handle.active
    points = collect(reader)
    assert values(points, "papyra.persistence.records.written") == {series: 5}  # not 4 + 5
    backend.metrics.observe("fsync_seconds", 0.002)
    assert collect(reader)["papyra.persistence.fsync.duration"][series].count == 2
    again.uninstrument()


def test_uninstrument_removes_its_listener_so_cycles_do_not_accumulate(reader: InMemoryMetricReader) -> None:
    backend = InMemoryPersistence()
    with ActorSystem(system_id="cycles") as system:
        for _ in range(3):
            for target in (backend, system):
                instrument(target, provider_of(reader)).uninstrument()
        # white-box: nothing is left behind on the targets' metrics (no per-observation cost)
        assert backend.metrics._listeners == ()
        assert system.metrics._listeners == ()


def test_two_targets_with_the_same_identity_are_refused_unless_labelled(reader: InMemoryMetricReader) -> None:
    provider = provider_of(reader)
    a, b = InMemoryPersistence(), InMemoryPersistence()
    instrument(a, provider)
    with pytest.raises(ConfigurationError, match="already instrumented"):
        instrument(b, provider)
    instrument(b, provider, labels={"instance": "b"})
    write(a, 2)
    write(b, 7)
    assert values(collect(reader), "papyra.persistence.records.written") == {
        attrs(backend="memory", store="memory"): 2,
        attrs(backend="memory", store="memory") | {("instance", "b")}: 7,
    }
    with pytest.raises(ConfigurationError, match="invalid label name"):
        instrument(InMemoryPersistence(), provider, labels={"env-name": "x"})


def test_durations_use_second_scale_bucket_boundaries(reader: InMemoryMetricReader) -> None:
    backend = InMemoryPersistence()
    instrument(backend, provider_of(reader))
    for seconds in (0.00004, 0.0003, 0.004, 0.004, 0.2, 12.0):
        backend.metrics.observe("write_seconds", seconds)
    point = collect(reader)["papyra.persistence.write.duration"][attrs(backend="memory", store="memory")]
    assert list(point.explicit_bounds) == list(LATENCY_BOUNDS)
    assert LATENCY_BOUNDS[0] == 0.00005 and LATENCY_BOUNDS[-1] == 10.0
    expected = [0] * (len(LATENCY_BOUNDS) + 1)
    for bucket in (0, 3, 6, 6, 11, len(LATENCY_BOUNDS)):  # <=50us, <=0.5ms, <=5ms, <=0.25s, >10s
        expected[bucket] += 1
    assert list(point.bucket_counts) == expected
    assert point.sum == pytest.approx(12.20834)


def test_instruments_have_the_catalogue_kinds_and_units(reader: InMemoryMetricReader) -> None:
    from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

    backend = InMemoryPersistence()
    with ActorSystem(system_id="kinds") as system:
        instrument(backend, provider_of(reader))
        instrument(system, provider_of(reader))
        write(backend, 1)
        for name in ("fsync_seconds", "write_seconds", "batch_size"):
            backend.metrics.observe(name, 1)
        system.spawn(Echo).ask(1, timeout=60)
        data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    for spec in PERSISTENCE_METRICS + RUNTIME_METRICS:
        if spec.key == "buffered":
            continue  # Redis only
        metric = metrics[spec.name]
        assert metric.unit == spec.unit and metric.description == spec.description
        expected = {"counter": Sum, "updowncounter": Sum, "gauge": Gauge, "histogram": Histogram}[spec.kind]
        assert isinstance(metric.data, expected), spec.name
        if spec.kind in ("counter", "updowncounter"):
            assert metric.data.is_monotonic == (spec.kind == "counter"), spec.name


def test_importing_papyra_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, papyra, papyra.persistence, papyra.contrib, papyra.contrib.prometheus\n"
        "bad = [m for m in sys.modules if m.startswith(('opentelemetry', 'redis'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
