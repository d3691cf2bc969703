"""One catalogue: OpenTelemetry's Prometheus exporter and the native exporter give the same
family names, kinds and units; the README's table is the catalogue's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.prometheus")

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from papyra.actor import Actor
from papyra.contrib.catalog import CATALOGUE, PERSISTENCE_METRICS, RUNTIME_METRICS, markdown_table
from papyra.contrib.otel import instrument
from papyra.contrib.prometheus import render
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import PersistedEvent
from papyra.system import ActorSystem

ROOT = Path(__file__).resolve().parents[2]


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


def families(text: str) -> dict[str, tuple[str, set[str]]]:
    """``{family name: (type, sample names)}`` of an exposition."""
    return {
        f.name: (f.type, {s.name for s in f.samples})
        for f in text_string_to_metric_families(text)
        if f.name.startswith("papyra_")
    }


def test_otel_prometheus_exporter_and_native_exporter_give_identical_families() -> None:
    reader = PrometheusMetricReader()  # registers itself on prometheus_client's global REGISTRY
    provider = MeterProvider(metric_readers=[reader])
    backend = InMemoryPersistence()
    with ActorSystem(system_id="names") as system:
        handles = [instrument(backend, provider), instrument(system, provider)]
        backend.record_event(PersistedEvent(timestamp=1.0))
        for name in ("fsync_seconds", "write_seconds", "batch_size"):
            backend.metrics.observe(name, 1)
        system.spawn(Echo).ask(1, timeout=60)
        through_otel = families(generate_latest(REGISTRY).decode())
        native = families(render([backend, system]))
        for handle in handles:
            handle.uninstrument()
    provider.shutdown()
    live = [s for s in PERSISTENCE_METRICS + RUNTIME_METRICS if s.key != "buffered"]  # Redis only
    assert len(native) == len(live)
    assert native == through_otel
    for spec in live:
        assert spec.prom_base in native, spec.name
        assert native[spec.prom_base][0] == spec.prom_type


def test_names_follow_the_conventions() -> None:
    for group in CATALOGUE.values():
        for spec in group:
            assert spec.name.startswith("papyra."), spec.name
            assert not spec.name.endswith(("_total", ".total", "_seconds", "_bytes")), spec.name
            assert all(a.startswith("papyra.") for a in spec.attributes)
            if spec.unit == "s":
                assert spec.prom_name.endswith("_seconds") or spec.kind == "histogram"
            if spec.kind == "counter":
                assert spec.prom_name.endswith("_total")
            if spec.kind == "histogram" and spec.unit == "s":
                assert spec.buckets[0] == pytest.approx(5e-5) and spec.buckets[-1] == 10.0
    names = [spec.prom_name for group in CATALOGUE.values() for spec in group]
    assert len(names) == len(set(names))


def test_readme_lists_the_catalogue_generated_from_the_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- catalogue:start -->\n(.*?)<!-- catalogue:end -->", readme, re.S)
    assert match, "README.md lacks the catalogue markers"
    assert match.group(1) == markdown_table(), (
        "README's catalogue is out of date: replace it with papyra.contrib.catalog.markdown_table()"
    )
