"""Prometheus exposition of backends' and ActorSystems' metrics (extra ``papyra[prometheus]``).

Built on the ``prometheus_client`` package, which does the text format, escaping, content
negotiation and OpenMetrics. The families and their names come from
:mod:`papyra.contrib.catalog`, so they equal what OpenTelemetry's Prometheus exporter shows
for the same metrics. Every series carries its target's identifying labels: ``system_id`` for
an ActorSystem; ``backend`` and ``store`` (the file path or the Redis key prefix, never a URL or
credentials) plus ``system_id`` for Redis for a backend; and the caller's constant ``labels``.
Counters and histograms are cumulative since the target was created (``metrics.reset()`` does
not make them go back).

* ``render(targets, labels=None)`` — the text (format 0.0.4, or OpenMetrics);
* ``start_http_server(targets, port, addr="127.0.0.1")`` — a scrape endpoint in a daemon thread;
* ``write_to_textfile(path, targets)`` — an atomic write (temporary file + rename) for
  node_exporter's textfile collector;
* :class:`PapyraCollector` — to register on a registry of your own.

Cost per collection: one ``metrics.snapshot(since_reset=False)`` per target (see the target's
``metrics``) and O(metrics) samples.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from papyra.contrib.catalog import MetricSpec, identity, label_name, specs_for, validate_labels
from papyra.exceptions import ConfigurationError, MissingDependencyError

try:  # pragma: no cover - exercised by the import test
    import prometheus_client
    from prometheus_client.core import Metric
    from prometheus_client.openmetrics import exposition as openmetrics
    from prometheus_client.registry import CollectorRegistry
    from prometheus_client.utils import floatToGoString
except ImportError as exc:  # pragma: no cover
    raise MissingDependencyError(
        "Prometheus support needs the 'prometheus_client' package: pip install 'papyra[prometheus]'"
    ) from exc

__all__ = [
    "MetricsServer",
    "PapyraCollector",
    "add_sample",
    "registry_for",
    "render",
    "render_registry",
    "start_http_server",
    "write_registry_to_textfile",
    "write_to_textfile",
]


def add_sample(
    families: dict[str, Metric], spec: MetricSpec, value: Any, labels: Mapping[str, str]
) -> None:
    """Add ``spec``'s ``value`` with ``labels`` to its family in ``families`` (family name ->
    ``prometheus_client`` Metric; created on first use, in insertion order). ``value``: a
    number, ``{attribute value: number}`` for the spec's one extra attribute, a histogram dict
    (``bounds``, non-cumulative ``counts`` with an overflow slot, ``count``, ``sum``), or None
    (not known: nothing is added). O(buckets)."""
    if value is None:
        return
    family = families.get(spec.prom_base)
    if family is None:
        family = Metric(spec.prom_base, spec.description, spec.prom_type, spec.prom_unit)
        families[spec.prom_base] = family
    if spec.kind == "histogram":
        cumulative = 0
        for bound, count in zip(value["bounds"], value["counts"], strict=False):
            cumulative += count
            le = floatToGoString(bound)  # type: ignore[no-untyped-call]
            family.add_sample(f"{spec.prom_base}_bucket", {**labels, "le": le}, cumulative)
        family.add_sample(f"{spec.prom_base}_bucket", {**labels, "le": "+Inf"}, value["count"])
        family.add_sample(f"{spec.prom_base}_count", dict(labels), value["count"])
        family.add_sample(f"{spec.prom_base}_sum", dict(labels), value["sum"])
    elif isinstance(value, Mapping):
        (attribute,) = spec.attributes
        for key, number in sorted(value.items()):
            family.add_sample(spec.prom_name, {**labels, label_name(attribute): str(key)}, float(number))
    else:
        family.add_sample(spec.prom_name, dict(labels), float(value))


class PapyraCollector:
    """A ``prometheus_client`` collector for one or more targets (backends, ActorSystems).

    Raises :class:`~papyra.exceptions.ConfigurationError` for an invalid label name or two
    different targets with the same identifying labels (their series would collide)."""

    def __init__(self, targets: Any, *, labels: Mapping[str, str] | None = None) -> None:
        extra = validate_labels(labels)
        self._targets: list[tuple[Any, dict[str, str]]] = []
        seen: dict[tuple[tuple[str, str], ...], Any] = {}
        for target in _as_list(targets):
            if any(target is t for t, _ in self._targets):
                continue
            target_labels = {label_name(k): v for k, v in identity(target).items()} | extra
            key = tuple(sorted(target_labels.items()))
            if key in seen:
                raise ConfigurationError(
                    f"two targets have the same labels {target_labels}: pass labels= to tell them apart"
                )
            seen[key] = target
            self._targets.append((target, target_labels))

    def collect(self) -> Iterator[Metric]:
        """One family per catalogue metric, with a sample set per target. One cumulative
        snapshot per target."""
        families: dict[str, Metric] = {}
        for target, labels in self._targets:
            snapshot = target.metrics.snapshot(since_reset=False)
            for spec in specs_for(target):
                add_sample(families, spec, spec.value(target, snapshot), labels)
        yield from families.values()


def _as_list(targets: Any) -> list[Any]:
    if isinstance(targets, (list, tuple)):
        return list(targets)
    return [targets]


def registry_for(collectors: Iterable[Any]) -> CollectorRegistry:
    """A fresh registry (no process/platform collectors) holding ``collectors``."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


def render_registry(registry: CollectorRegistry, *, openmetrics_format: bool = False) -> str:
    """The exposition text of ``registry``: format 0.0.4, or OpenMetrics 1.0."""
    if openmetrics_format:
        text: bytes = openmetrics.generate_latest(registry)  # type: ignore[no-untyped-call]
    else:
        text = prometheus_client.generate_latest(registry)
    return text.decode("utf-8")


def render(
    targets: Any, *, labels: Mapping[str, str] | None = None, openmetrics_format: bool = False
) -> str:
    """The exposition text for a target or a list of targets (see :class:`PapyraCollector` for
    labels and errors). Cost: one snapshot per target."""
    return render_registry(
        registry_for([PapyraCollector(targets, labels=labels)]), openmetrics_format=openmetrics_format
    )


def write_to_textfile(path: str | Any, targets: Any, *, labels: Mapping[str, str] | None = None) -> None:
    """Write the exposition of ``targets`` to ``path`` atomically (a temporary file
    ``path.<pid>.<thread>`` in the same directory, then a rename), as node_exporter's textfile
    collector needs; name the file ``*.prom``. Raises ``OSError`` on I/O errors (the temporary
    file is removed)."""
    write_registry_to_textfile(path, registry_for([PapyraCollector(targets, labels=labels)]))


def write_registry_to_textfile(path: str | Any, registry: CollectorRegistry) -> None:
    """Write ``registry``'s exposition to ``path`` atomically (as :func:`write_to_textfile`)."""
    prometheus_client.write_to_textfile(str(path), registry)


class MetricsServer:
    """A running scrape endpoint (see :func:`start_http_server`): ``port``, ``url``, ``close()``."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_port
        host = server.server_address[0]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and join the server thread (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_http_server(
    targets: Any,
    port: int,
    addr: str = "127.0.0.1",
    *,
    labels: Mapping[str, str] | None = None,
) -> MetricsServer:
    """Serve ``targets``' metrics on ``http://addr:port/metrics`` (any path; ``port=0`` picks a
    free port: see ``MetricsServer.port``) from a daemon thread, with content negotiation
    (OpenMetrics when the scraper asks for it) and gzip. Binds to loopback by default. Raises
    ``OSError`` when the address cannot be bound, ``ConfigurationError`` for bad labels."""
    registry = registry_for([PapyraCollector(targets, labels=labels)])
    server, thread = prometheus_client.start_http_server(port, addr=addr, registry=registry)
    return MetricsServer(server, thread)
