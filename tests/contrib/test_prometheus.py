"""Prometheus exposition through prometheus_client: identifying labels, validated label names,
cumulative values, a real HTTP scrape and atomic textfile writes."""

from __future__ import annotations

import threading
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from papyra.contrib.prometheus import render, start_http_server, write_to_textfile
from papyra.exceptions import ConfigurationError
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent
from papyra.system import ActorSystem

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """prometheus_client's own parser: ``({family: type}, {(sample name, labels): value})``;
    a duplicate series is an error."""
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in types, f"family {family.name} repeated"
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return types, samples


def series(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def write(backend: Any, n: int) -> None:
    for i in range(n):
        backend.record_event(PersistedEvent(timestamp=float(i)))
    assert backend.flush(timeout=30)


def test_every_series_carries_backend_and_store_labels_and_counts_since_creation(tmp_path: Path) -> None:
    backend = JsonFilePersistence(tmp_path / "a.ndjson")
    write(backend, 3)
    backend.metrics.reset()
    write(backend, 2)
    types, samples = parse(render(backend))
    ident = {"backend": "json", "store": str(backend.path)}
    assert types["papyra_persistence_records_written"] == "counter"
    assert samples[series("papyra_persistence_records_written_total", **ident)] == 5  # not 2: cumulative
    assert samples[series("papyra_persistence_up", **ident)] == 1
    assert samples[series("papyra_persistence_queue_depth", **ident)] == 0
    assert all(dict(labels).keys() >= ident.keys() for _, labels in samples)
    backend.close()


def test_two_stores_and_two_systems_render_together_without_collisions(tmp_path: Path) -> None:
    b1 = JsonFilePersistence(tmp_path / "one.ndjson")
    b2 = JsonFilePersistence(tmp_path / "two.ndjson")
    write(b1, 4)
    write(b2, 1)
    with ActorSystem(system_id="alpha") as s1, ActorSystem(system_id="beta") as s2:
        _, samples = parse(render([b1, b2, s1, s2], labels={"env": "prod"}))
    for backend, n in ((b1, 4), (b2, 1)):
        name = "papyra_persistence_records_written_total"
        assert samples[series(name, backend="json", store=str(backend.path), env="prod")] == n
    assert samples[series("papyra_actor_alive", system_id="alpha", env="prod")] == 0
    assert samples[series("papyra_actor_alive", system_id="beta", env="prod")] == 0
    b1.close()
    b2.close()


def test_two_targets_with_the_same_labels_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="same labels"):
        render([InMemoryPersistence(), InMemoryPersistence()])


@pytest.mark.parametrize("name", ["env-name", "1st", "__name", "a b", "", "store", "system_id", "le"])
def test_invalid_or_reserved_label_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError):
        render(InMemoryPersistence(), labels={name: "x"})


def test_histograms_are_cumulative_with_inf_bucket_equal_to_count() -> None:
    backend = InMemoryPersistence()
    for value in (0.0002, 0.003, 0.003, 17.0):
        backend.metrics.observe("fsync_seconds", value)
    types, samples = parse(render(backend, labels={"instance": "a"}))
    name = "papyra_persistence_fsync_duration_seconds"
    assert types[name] == "histogram"
    labels = {"backend": "memory", "store": "memory", "instance": "a"}
    assert samples[series(f"{name}_bucket", **labels, le="+Inf")] == 4
    assert samples[series(f"{name}_bucket", **labels, le="10.0")] == 3
    assert samples[series(f"{name}_bucket", **labels, le="0.005")] == 3
    assert samples[series(f"{name}_bucket", **labels, le="0.00025")] == 1
    assert samples[series(f"{name}_bucket", **labels, le="5e-05")] == 0
    assert samples[series(f"{name}_count", **labels)] == 4
    assert samples[series(f"{name}_sum", **labels)] == pytest.approx(17.0062)


def test_label_values_are_escaped() -> None:
    backend = InMemoryPersistence()
    note = 'a "quoted"\nvalue\\'
    _, samples = parse(render(backend, labels={"note": note}))
    assert samples[series("papyra_persistence_up", backend="memory", store="memory", note=note)] == 1


def test_http_endpoint_serves_a_real_scrape_on_loopback() -> None:
    backend = InMemoryPersistence()
    write(backend, 6)
    threads_before = set(threading.enumerate())
    with start_http_server(backend, 0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(server.url, timeout=60) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            _, samples = parse(response.read().decode())
        written = series("papyra_persistence_records_written_total", backend="memory", store="memory")
        assert samples[written] == 6
        write(backend, 1)
        request = urllib.request.Request(server.url, headers={"Accept": "application/openmetrics-text"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            body = response.read().decode()
        assert body.endswith("# EOF\n")
        assert 'papyra_persistence_records_written_total{backend="memory",store="memory"} 7.0' in body
    assert set(threading.enumerate()) <= threads_before  # the server thread is gone


def test_textfile_is_written_atomically_and_parses(tmp_path: Path) -> None:
    backend = InMemoryPersistence()
    write(backend, 2)
    target = tmp_path / "papyra.prom"
    target.write_text("stale\n")
    write_to_textfile(target, backend)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["papyra.prom"]  # no temporary left behind
    _, samples = parse(target.read_text())
    assert samples[series("papyra_persistence_records_written_total", backend="memory", store="memory")] == 2
    with pytest.raises(OSError):
        write_to_textfile(tmp_path / "missing" / "x.prom", backend)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["papyra.prom"]


def test_redis_series_are_labelled_by_prefix_and_system_never_by_url(redis_server: Any) -> None:
    pytest.importorskip("redis")
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    prefix = f"prom-{uuid.uuid4().hex[:8]}"
    url = redis_server.url.replace("redis://", "redis://default:s3cr3t-pw@")
    secret = RedisStreamsPersistence(RedisStreamsConfig(url=url, prefix=prefix, system_id="sys"))
    text = render(secret)
    assert "s3cr3t" not in text and "redis://" not in text
    secret.close()

    config = RedisStreamsConfig(url=redis_server.url, prefix=prefix, system_id="sys")
    backend = RedisStreamsPersistence(config)
    try:
        write(backend, 3)
        _, samples = parse(render(backend))
        ident = {"backend": "redis", "store": prefix, "system_id": "sys"}
        assert samples[series("papyra_persistence_records_written_total", **ident)] == 3
        assert samples[series("papyra_persistence_buffered_records", **ident)] == 0
        assert samples[series("papyra_persistence_up", **ident)] == 1
    finally:
        backend.close()
