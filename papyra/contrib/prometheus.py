"""Prometheus text exposition (format 0.0.4) of a backend's or an ActorSystem's metrics.

``render(target)`` reads one consistent ``metrics.snapshot()`` and returns the text that
node_exporter's textfile collector (or any HTTP handler) can serve. No dependency on a
Prometheus client library. Cost: one snapshot (one lock acquisition) and O(number of metrics).

Textfile recipe (cron, every minute)::

    papyra metrics persistence --path /var/lib/app/papyra.ndjson --format prometheus \\
        > /var/lib/node_exporter/papyra.prom.$$ && \\
        mv /var/lib/node_exporter/papyra.prom.$$ /var/lib/node_exporter/papyra.prom
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from papyra.contrib.catalog import MetricSpec, histogram_of, specs_for, target_kind

__all__ = ["render", "render_gauge", "render_snapshot"]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
    merged = dict(labels)
    if extra:
        merged.update(extra)
    if not merged:
        return ""
    inner = ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in sorted(merged.items()))
    return "{" + inner + "}"


def _num(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _render_spec(spec: MetricSpec, snap: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    lines: list[str] = []
    if spec.kind == "histogram":
        hist = histogram_of(snap, spec.key)
        if hist is None:
            return lines
        lines.append(f"# HELP {spec.prom_name} {spec.description}")
        lines.append(f"# TYPE {spec.prom_name} histogram")
        cumulative = 0
        for bound, count in zip(hist["bounds"], hist["counts"][:-1], strict=True):
            cumulative += count
            lines.append(f"{spec.prom_name}_bucket{_labels(labels, {'le': _num(bound)})} {cumulative}")
        lines.append(f"{spec.prom_name}_bucket{_labels(labels, {'le': '+Inf'})} {hist['count']}")
        lines.append(f"{spec.prom_name}_sum{_labels(labels)} {_num(hist['sum'])}")
        lines.append(f"{spec.prom_name}_count{_labels(labels)} {hist['count']}")
        return lines
    if spec.kind == "labelled_gauge":
        values = snap.get(spec.key)
        if not isinstance(values, Mapping):
            return lines
        lines.append(f"# HELP {spec.prom_name} {spec.description}")
        lines.append(f"# TYPE {spec.prom_name} gauge")
        for label_value, value in sorted(values.items()):
            lines.append(f"{spec.prom_name}{_labels(labels, {spec.label: str(label_value)})} {_num(value)}")
        return lines
    if spec.key not in snap:
        return lines
    lines.append(f"# HELP {spec.prom_name} {spec.description}")
    lines.append(f"# TYPE {spec.prom_name} {spec.kind}")
    lines.append(f"{spec.prom_name}{_labels(labels)} {_num(snap[spec.key])}")
    return lines


def render_snapshot(
    snapshot: Mapping[str, Any], specs: tuple[MetricSpec, ...], labels: Mapping[str, str]
) -> str:
    """Render an already-taken snapshot with the given metric specs and constant labels."""
    lines: list[str] = []
    for spec in specs:
        lines.extend(_render_spec(spec, snapshot, labels))
    return "\n".join(lines) + ("\n" if lines else "")


def render_gauge(
    name: str,
    description: str,
    samples: Iterable[tuple[Mapping[str, str], float]],
    labels: Mapping[str, str] | None = None,
) -> str:
    """One gauge family: ``# HELP``/``# TYPE`` and a sample per ``(sample labels, value)``, each
    with the constant ``labels`` too. Empty text when there is no sample (a value that is not
    known is left out rather than exported as NaN)."""
    rows = [f"{name}{_labels(labels or {}, extra)} {_num(value)}" for extra, value in samples]
    if not rows:
        return ""
    return "\n".join([f"# HELP {name} {description}", f"# TYPE {name} gauge", *rows]) + "\n"


def render(target: Any, *, labels: Mapping[str, str] | None = None) -> str:
    """Prometheus text for a persistence backend or an ActorSystem.

    Constant labels: ``backend`` for backends, ``system_id`` for systems, plus ``labels``.
    """
    base: dict[str, str] = {}
    if target_kind(target) == "runtime":
        base["system_id"] = str(getattr(target, "system_id", ""))
    else:
        base["backend"] = str(getattr(target, "backend_name", type(target).__name__))
    if labels:
        base.update(labels)
    snapshot = target.metrics.snapshot()
    return render_snapshot(snapshot, specs_for(target), base)
