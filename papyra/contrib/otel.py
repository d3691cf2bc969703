"""OpenTelemetry bridge (optional extra ``papyra[otel]``, needs ``opentelemetry-api`` >= 1.23).

``instrument(target, meter_provider=None, labels=None)`` publishes a persistence backend's or an
``ActorSystem``'s metrics on the meter ``papyra`` of ``meter_provider`` (default: the global
one), with the instruments of :mod:`papyra.contrib.catalog`:

* counters, up-down counters and gauges are **observable**: one callback per instrument reads
  one ``metrics.snapshot(since_reset=False)`` per target per collection;
* histograms are real histograms fed by a listener on the target's metrics, observation by
  observation, with bucket boundaries suited to their unit passed as the instrument advisory
  (50 µs … 10 s for durations).

One registration per ``MeterProvider`` serves any number of targets: the instruments are
created once, and every target's observations carry its identifying attributes
(``papyra.system_id``; ``papyra.backend`` and ``papyra.store``) plus ``labels``. Two different
targets with the same attributes on one provider are refused (``ConfigurationError``): their
series would be indistinguishable.

Counters are cumulative and never go backwards: they read the values since the target was
created (``metrics.reset()`` does not affect them), and a series keeps what earlier targets with
the same attributes reported (``uninstrument()`` then ``instrument(reopened_backend)`` continues
the count). ``instrument()`` of a target already instrumented on that provider returns the same
handle. Importing :mod:`papyra` never imports OpenTelemetry; only this module does.

Cost: one extra function call (and the SDK's ``record``) per histogram observation; per
collection, one snapshot per target (see the target's ``metrics``) and O(metrics) observations.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from papyra.contrib.catalog import MetricSpec, identity, specs_for, target_kind, validate_labels
from papyra.exceptions import ConfigurationError, MissingDependencyError

__all__ = ["Instrumentation", "instrument"]

try:  # pragma: no cover - exercised by the import test
    from opentelemetry import metrics as _otel_metrics
    from opentelemetry.metrics import CallbackOptions, Observation
except ImportError as exc:  # pragma: no cover
    raise MissingDependencyError(
        "OpenTelemetry support needs the 'opentelemetry-api' package: pip install 'papyra[otel]'"
    ) from exc

SeriesKey = tuple[tuple[str, str], ...]


class Instrumentation:
    """Handle of one instrumented target, returned by :func:`instrument`.

    ``attributes`` are the target's series attributes; ``uninstrument()`` stops reporting it
    (idempotent)."""

    def __init__(self, registration: _Registration, target: Any, attributes: dict[str, str]) -> None:
        self.target = target
        self.attributes = attributes
        self.series: SeriesKey = tuple(sorted(attributes.items()))
        self._registration = registration
        self._active = True
        self._lock = threading.Lock()
        self._snapshot: Mapping[str, Any] = {}
        self._served: set[str] = set()

    @property
    def active(self) -> bool:
        """False after :meth:`uninstrument`. O(1)."""
        return self._active

    def snapshot_for(self, name: str) -> Mapping[str, Any]:
        """The target's cumulative snapshot for instrument ``name``: a fresh one once ``name``
        was already served from the current one, so each collection takes one snapshot."""
        with self._lock:
            if not self._served or name in self._served:
                self._snapshot = self.target.metrics.snapshot(since_reset=False)
                self._served = set()
            self._served.add(name)
            return self._snapshot

    def on_observation(self, key: str, value: float) -> None:
        """Metrics listener: forward one histogram observation (``key`` = snapshot key)."""
        if self._active:
            self._registration.record(key, value, self.attributes)

    def uninstrument(self) -> None:
        """Stop reporting this target (its observable series disappear, its histograms stop
        recording); the counters' last values are kept for a later target with the same
        attributes. Idempotent. Cost: one snapshot of the target."""
        if not self._active:
            return
        self._active = False
        remove = getattr(self.target.metrics, "remove_listener", None)
        if remove is not None:
            remove(self.on_observation)
        self._registration.detach(self)


class _Registration:
    """Papyra's instruments on one MeterProvider and the targets they report."""

    def __init__(self, meter: Any) -> None:
        self._meter = meter
        self._lock = threading.Lock()
        self._handles: dict[SeriesKey, Instrumentation] = {}
        self._histograms: dict[str, Any] = {}  # snapshot key -> Histogram instrument
        self._groups: set[str] = set()
        # Counter totals of detached targets per series: (weak ref to the target, totals); the
        # totals of targets that no longer exist are merged into one entry (ref None).
        self._carried: dict[SeriesKey, list[tuple[weakref.ref[Any] | None, dict[str, Any]]]] = {}

    def attach(self, target: Any, attributes: dict[str, str]) -> Instrumentation:
        group = target_kind(target)
        with self._lock:
            for handle in self._handles.values():
                if handle.target is target:
                    return handle
            handle = Instrumentation(self, target, attributes)
            other = self._handles.get(handle.series)
            if other is not None:
                raise ConfigurationError(
                    f"another target is already instrumented with the attributes {attributes}: "
                    "pass labels= to tell them apart"
                )
            carried = self._carried.get(handle.series, [])
            carried[:] = [(ref, totals) for ref, totals in carried if ref is None or ref() is not target]
            if group not in self._groups:
                self._create(specs_for(target))
                self._groups.add(group)
            self._handles[handle.series] = handle
        add = getattr(target.metrics, "add_listener", None)
        if add is not None:
            add(handle.on_observation)
        return handle

    def detach(self, handle: Instrumentation) -> None:
        with self._lock:
            if self._handles.get(handle.series) is handle:
                del self._handles[handle.series]
        snap = handle.target.metrics.snapshot(since_reset=False)
        totals = {
            spec.key: spec.value(handle.target, snap) or 0
            for spec in specs_for(handle.target)
            if spec.kind == "counter"
        }
        with self._lock:
            carried = self._carried.setdefault(handle.series, [])
            carried.append((weakref.ref(handle.target), totals))
            gone = [t for ref, t in carried if ref is None or ref() is None]
            if len(gone) > 1:
                merged = {key: sum(t.get(key, 0) for t in gone) for key in totals}
                carried[:] = [(ref, t) for ref, t in carried if ref is not None and ref() is not None]
                carried.append((None, merged))

    def record(self, key: str, value: float, attributes: Mapping[str, str]) -> None:
        hist = self._histograms.get(key)
        if hist is not None:
            hist.record(value, attributes)

    def _create(self, specs: Iterable[MetricSpec]) -> None:
        meter = self._meter
        for spec in specs:
            common = {"unit": spec.unit, "description": spec.description}
            if spec.kind == "histogram":
                self._histograms[spec.key] = meter.create_histogram(
                    spec.name, explicit_bucket_boundaries_advisory=list(spec.buckets), **common
                )
            elif spec.kind == "counter":
                meter.create_observable_counter(spec.name, callbacks=[self._callback(spec)], **common)
            elif spec.kind == "updowncounter":
                meter.create_observable_up_down_counter(spec.name, callbacks=[self._callback(spec)], **common)
            else:
                meter.create_observable_gauge(spec.name, callbacks=[self._callback(spec)], **common)

    def _carried_total(self, series: SeriesKey, key: str) -> Any:
        return sum(totals.get(key, 0) for _, totals in self._carried.get(series, ()))

    def _callback(self, spec: MetricSpec) -> Any:
        group = "runtime" if spec.name.startswith("papyra.actor.") else "persistence"

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                handles = [h for h in self._handles.values() if target_kind(h.target) == group]
            out: list[Observation] = []
            for handle in handles:
                value = spec.value(handle.target, handle.snapshot_for(spec.name))
                if value is None:
                    continue
                if isinstance(value, Mapping):  # one extra attribute (e.g. mailbox depth per class)
                    (attr,) = spec.attributes
                    out.extend(
                        Observation(v, {**handle.attributes, attr: str(k)}) for k, v in value.items()
                    )
                    continue
                if spec.kind == "counter":
                    with self._lock:
                        value += self._carried_total(handle.series, spec.key)
                out.append(Observation(value, handle.attributes))
            return out

        return observe


_REGISTRATIONS: weakref.WeakKeyDictionary[Any, _Registration] = weakref.WeakKeyDictionary()
_REGISTRATIONS_LOCK = threading.Lock()


def instrument(
    target: Any, meter_provider: Any = None, *, labels: Mapping[str, str] | None = None
) -> Instrumentation:
    """Publish ``target``'s metrics (a persistence backend or an ``ActorSystem``) through
    OpenTelemetry on ``meter_provider`` (default: the global provider).

    ``labels`` are extra attributes for this target's series (names as Prometheus labels:
    ``[a-zA-Z_][a-zA-Z0-9_]*``). Returns the target's :class:`Instrumentation` (the existing one
    if it is already instrumented on this provider). Raises
    :class:`~papyra.exceptions.ConfigurationError` for an invalid label or when another target
    already reports with the same attributes. Cost: the first call per provider and target kind
    creates the instruments; later calls are O(instrumented targets).
    """
    from papyra import __version__

    attributes = {**identity(target), **validate_labels(labels)}
    provider = meter_provider or _otel_metrics.get_meter_provider()
    with _REGISTRATIONS_LOCK:
        registration = _REGISTRATIONS.get(provider)
        if registration is None:
            registration = _Registration(provider.get_meter("papyra", __version__))
            _REGISTRATIONS[provider] = registration
    return registration.attach(target, attributes)
