"""Prometheus text exposition: names follow conventions and values match the snapshot."""

from __future__ import annotations

import re

from papyra.contrib.prometheus import render, render_gauge
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import PersistedEvent

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text: str) -> tuple[dict[str, str], dict[str, float]]:
    """Minimal exposition-format parser: returns TYPE lines and samples (name+labels -> value)."""
    types: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line.startswith("# HELP ") or not line:
            continue
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a valid sample line: {line!r}"
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return types, samples


def test_render_counts_records_with_backend_label_and_conventional_names() -> None:
    backend = InMemoryPersistence()
    for i in range(3):
        backend.record_event(PersistedEvent(timestamp=float(i)))
    types, samples = parse(render(backend))
    assert types["papyra_persistence_records_written_total"] == "counter"
    assert samples['papyra_persistence_records_written_total{backend="memory"}'] == 3
    assert samples['papyra_persistence_written_bytes_total{backend="memory"}'] > 0
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), name
    backend.close()


def test_histograms_are_cumulative_with_inf_bucket_equal_to_count() -> None:
    backend = InMemoryPersistence()
    for value in (0.0002, 0.003, 0.003, 7.0):
        backend.metrics.observe("fsync_seconds", value)
    types, samples = parse(render(backend, labels={"instance": "a"}))
    name = "papyra_persistence_fsync_duration_seconds"
    assert types[name] == "histogram"
    assert samples[f'{name}_bucket{{backend="memory",instance="a",le="+Inf"}}'] == 4
    assert samples[f'{name}_bucket{{backend="memory",instance="a",le="0.005"}}'] == 3
    assert samples[f'{name}_bucket{{backend="memory",instance="a",le="0.00025"}}'] == 1
    assert samples[f'{name}_count{{backend="memory",instance="a"}}'] == 4
    assert abs(samples[f'{name}_sum{{backend="memory",instance="a"}}'] - 7.0062) < 1e-9
    buckets = [v for k, v in samples.items() if k.startswith(f"{name}_bucket")]
    assert buckets == sorted(buckets)
    backend.close()


def test_label_values_are_escaped() -> None:
    backend = InMemoryPersistence()
    text = render(backend, labels={"note": 'a "quoted"\nvalue'})
    assert 'note="a \\"quoted\\"\\nvalue"' in text
    parse(text)
    backend.close()


def test_render_gauge_is_one_valid_family_or_nothing() -> None:
    text = render_gauge(
        "papyra_store_records",
        "Records per kind.",
        [({"kind": "event"}, 3), ({"kind": 'we"ird'}, 1.5)],
        {"backend": "json"},
    )
    assert text.splitlines()[:2] == [
        "# HELP papyra_store_records Records per kind.",
        "# TYPE papyra_store_records gauge",
    ]
    types, samples = parse(text)
    assert types == {"papyra_store_records": "gauge"}
    assert samples == {
        'papyra_store_records{backend="json",kind="event"}': 3,
        'papyra_store_records{backend="json",kind="we\\"ird"}': 1.5,
    }
    assert render_gauge("papyra_store_newest_timestamp_seconds", "unknown", []) == ""
