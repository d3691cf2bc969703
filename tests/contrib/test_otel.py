"""OpenTelemetry bridge: exported values equal the snapshot, cumulative, never double counted."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from papyra.contrib.otel import instrument
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import PersistedEvent


def collect(reader: InMemoryMetricReader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = metric
    return out


def test_observable_counters_report_cumulative_snapshot_values() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    backend = InMemoryPersistence()
    handle = instrument(backend, meter_provider=provider)
    try:
        for i in range(5):
            backend.record_event(PersistedEvent(timestamp=float(i)))
        metrics = collect(reader)
        written = metrics["papyra.persistence.records.written"]
        assert written.unit == "{record}"
        points = list(written.data.data_points)
        assert [p.value for p in points] == [5]
        assert dict(points[0].attributes) == {"backend": "memory"}
        assert metrics["papyra.persistence.bytes.written"].unit == "By"
        # A second collection reports the new cumulative total, not a sum of totals.
        backend.record_event(PersistedEvent(timestamp=9.0))
        again = collect(reader)["papyra.persistence.records.written"]
        assert [p.value for p in again.data.data_points] == [6]
    finally:
        handle.uninstrument()
        provider.shutdown()
        backend.close()


def test_histogram_observations_are_forwarded_in_seconds() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    backend = InMemoryPersistence()
    handle = instrument(backend, meter_provider=provider)
    try:
        backend.metrics.observe("fsync_seconds", 0.004)
        backend.metrics.observe("fsync_seconds", 0.006)
        hist = collect(reader)["papyra.persistence.fsync.duration"]
        assert hist.unit == "s"
        (point,) = hist.data.data_points
        assert point.count == 2
        assert abs(point.sum - 0.01) < 1e-12
        handle.uninstrument()
        backend.metrics.observe("fsync_seconds", 1.0)
        (point,) = collect(reader)["papyra.persistence.fsync.duration"].data.data_points
        assert point.count == 2  # nothing recorded after uninstrument
    finally:
        provider.shutdown()
        backend.close()


def test_importing_papyra_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, papyra, papyra.persistence, papyra.contrib, papyra.contrib.prometheus\n"
        "bad = [m for m in sys.modules if m.startswith(('opentelemetry', 'redis'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_counters_stay_monotonic_across_metrics_reset() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    backend = InMemoryPersistence()
    handle = instrument(backend, meter_provider=provider)
    try:
        for i in range(10):
            backend.record_event(PersistedEvent(timestamp=float(i)))
        first = collect(reader)["papyra.persistence.records.written"]
        assert [p.value for p in first.data.data_points] == [10]
        backend.metrics.reset()
        for i in range(3):
            backend.record_event(PersistedEvent(timestamp=float(i)))
        after = collect(reader)["papyra.persistence.records.written"]
        assert [p.value for p in after.data.data_points] == [13]  # never goes backwards
    finally:
        handle.uninstrument()
        provider.shutdown()
        backend.close()
