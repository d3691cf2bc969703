"""OpenTelemetry bridge (optional extra ``papyra[otel]``, needs ``opentelemetry-api``).

``instrument(target)`` registers, on a meter named ``papyra``:

* one **observable** counter or gauge per snapshot value (``papyra.persistence.records.written``,
  ``papyra.actor.restarts``…). Callbacks read the cumulative value from one
  ``metrics.snapshot()`` per collection, so nothing is double counted;
* one real histogram per Papyra histogram (``papyra.persistence.fsync.duration`` in ``s``…), fed
  by a listener on the metrics object, observation by observation.

Units are UCUM (``s``, ``By``, ``{record}``). Attributes: ``backend`` for backends,
``system_id`` for actor systems. Importing :mod:`papyra` never imports OpenTelemetry; only this
module does. Cost when instrumented: one extra function call per histogram observation; the
observable callbacks cost one snapshot per export interval.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from papyra.contrib.catalog import MetricSpec, specs_for, target_kind
from papyra.exceptions import MissingDependencyError

__all__ = ["Instrumentation", "instrument"]

try:  # pragma: no cover - exercised by the import test
    from opentelemetry import metrics as _otel_metrics
    from opentelemetry.metrics import CallbackOptions, Observation
except ImportError as exc:  # pragma: no cover
    raise MissingDependencyError(
        "OpenTelemetry support needs the 'opentelemetry-api' package: pip install 'papyra[otel]'"
    ) from exc


class Instrumentation:
    """Handle returned by :func:`instrument`; ``uninstrument()`` stops reporting."""

    def __init__(self, target: Any, attributes: dict[str, str]) -> None:
        self.target = target
        self.attributes = attributes
        self._active = True
        self._lock = threading.Lock()
        self._histograms: dict[str, Any] = {}
        # Counter continuity across ``metrics.reset()``: OpenTelemetry counters must never go
        # backwards, so a drop in a raw counter adds the value seen before the reset to an offset.
        self._last: dict[str, float] = {}
        self._offset: dict[str, float] = {}

    @property
    def active(self) -> bool:
        return self._active

    def _read(self, key: str, *, monotonic: bool) -> float | None:
        if not self._active:
            return None
        snap = self.target.metrics.snapshot()
        value = snap.get(key)
        if not isinstance(value, (int, float)):
            return None
        if not monotonic:
            return value
        with self._lock:
            last = self._last.get(key, 0)
            if value < last:  # the source was reset: carry what was already reported
                self._offset[key] = self._offset.get(key, 0) + last
            self._last[key] = value
            return value + self._offset.get(key, 0)

    def _callback(self, spec: MetricSpec) -> Any:
        monotonic = spec.kind == "counter"

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            value = self._read(spec.key, monotonic=monotonic)
            if value is None:
                return []
            return [Observation(value, self.attributes)]

        return observe

    def _labelled_callback(self, spec: MetricSpec) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            if not self._active:
                return []
            values = self.target.metrics.snapshot().get(spec.key)
            if not isinstance(values, dict):
                return []
            return [
                Observation(value, {**self.attributes, spec.label: str(label)})
                for label, value in values.items()
            ]

        return observe

    def _on_observation(self, name: str, value: float) -> None:
        hist = self._histograms.get(name)
        if hist is not None and self._active:
            hist.record(value, self.attributes)

    def uninstrument(self) -> None:
        """Stop reporting (observable callbacks return nothing; histograms stop recording)."""
        self._active = False
        remove = getattr(self.target.metrics, "remove_listener", None)
        if remove is not None:
            remove(self._on_observation)


def instrument(target: Any, meter_provider: Any = None) -> Instrumentation:
    """Publish ``target``'s metrics (a persistence backend or an ``ActorSystem``) through
    OpenTelemetry. ``meter_provider`` defaults to the global one."""
    from papyra import __version__

    provider = meter_provider or _otel_metrics.get_meter_provider()
    meter = provider.get_meter("papyra", __version__)
    if target_kind(target) == "runtime":
        attributes = {"system_id": str(getattr(target, "system_id", ""))}
    else:
        attributes = {"backend": str(getattr(target, "backend_name", type(target).__name__))}
    inst = Instrumentation(target, attributes)
    for spec in specs_for(target):
        if spec.kind == "counter":
            meter.create_observable_counter(
                spec.otel_name, callbacks=[inst._callback(spec)], unit=spec.unit,
                description=spec.description,
            )
        elif spec.kind == "gauge":
            meter.create_observable_gauge(
                spec.otel_name, callbacks=[inst._callback(spec)], unit=spec.unit,
                description=spec.description,
            )
        elif spec.kind == "labelled_gauge":
            meter.create_observable_gauge(
                spec.otel_name, callbacks=[inst._labelled_callback(spec)], unit=spec.unit,
                description=spec.description,
            )
        else:
            inst._histograms[spec.key] = meter.create_histogram(
                spec.otel_name, unit=spec.unit, description=spec.description
            )
    add = getattr(target.metrics, "add_listener", None)
    if add is not None and inst._histograms:
        add(inst._on_observation)
    return inst
