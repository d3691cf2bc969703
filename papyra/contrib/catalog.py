"""The metric catalogue: every number Papyra exports, with its kind, unit, meaning and attributes.

Both exporters (:mod:`papyra.contrib.otel`, :mod:`papyra.contrib.prometheus`) and the CLI's
``metrics persistence --format prometheus`` are generated from these tables, so a metric has the
same name and meaning everywhere. Names follow the OpenTelemetry semantic-convention guidance
(``papyra.`` namespace, UCUM units, no unit in the name); the Prometheus name is derived from the
OpenTelemetry name, unit and kind by the rules of OpenTelemetry's own Prometheus exporter
(dots to ``_``, ``_seconds``/``_bytes`` unit suffix, ``_total`` for counters), so a metric
exported through OpenTelemetry's Prometheus exporter and natively has one name.

Kinds: ``counter`` (monotonic), ``updowncounter`` (additive counts that go up and down: sum them
across targets), ``gauge`` (non-additive values: 0/1 states, timestamps, peaks), ``histogram``.
Attributes: every observation carries its target's identity (:func:`identity`) plus the
spec's own ``attributes``; Prometheus label names are the attribute names without ``papyra.``.

Cost: reading a spec is O(1) on an already-taken snapshot; nothing here takes a lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from papyra.exceptions import ConfigurationError
from papyra.persistence.metrics import HISTOGRAMS, LATENCY_BOUNDS

__all__ = [
    "CATALOGUE",
    "PERSISTENCE_METRICS",
    "RUNTIME_METRICS",
    "STORE_METRICS",
    "MetricSpec",
    "identity",
    "label_name",
    "markdown_table",
    "specs_for",
    "target_kind",
    "validate_labels",
]

Kind = Literal["counter", "updowncounter", "gauge", "histogram"]
Reader = Callable[[Any, Mapping[str, Any]], Any]

#: UCUM unit -> Prometheus name suffix (the mapping of OpenTelemetry's Prometheus exporter;
#: ``{annotation}`` units have none).
_UNIT_SUFFIX = {"s": "seconds", "By": "bytes", "1": ""}
_PROM_TYPE = {"counter": "counter", "updowncounter": "gauge", "gauge": "gauge", "histogram": "histogram"}


def _unit_suffix(unit: str) -> str:
    if unit.startswith("{") and unit.endswith("}"):
        return ""
    try:
        return _UNIT_SUFFIX[unit]
    except KeyError:
        raise ConfigurationError(f"unit {unit!r} has no Prometheus suffix in the catalogue") from None


def _from_snapshot(key: str) -> Reader:
    return lambda target, snap: snap.get(key)


@dataclass(frozen=True)
class MetricSpec:
    """One metric: OpenTelemetry ``name``, ``kind``, UCUM ``unit``, ``description``, the extra
    ``attributes`` of its observations, and how to read it (``read(target, snapshot)`` returns a
    number, ``{attribute value: number}`` for one extra attribute, a histogram dict, or None for
    "not known": left out). ``buckets``: histogram bucket bounds (the OpenTelemetry advisory)."""

    name: str
    kind: Kind
    unit: str
    description: str
    key: str = ""
    attributes: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    read: Reader | None = field(default=None, compare=False, repr=False)

    def value(self, target: Any, snapshot: Mapping[str, Any]) -> Any:
        """This metric's value for ``target`` from its snapshot (see the class docs)."""
        reader = self.read or _from_snapshot(self.key)
        return reader(target, snapshot)

    @property
    def prom_base(self) -> str:
        """The Prometheus family name without ``_total`` (``papyra_persistence_written_bytes``)."""
        name = re.sub(r"[^a-zA-Z0-9:]+", "_", self.name)
        suffix = _unit_suffix(self.unit)
        if suffix and not name.endswith("_" + suffix):
            name += "_" + suffix
        return name

    @property
    def prom_name(self) -> str:
        """The Prometheus name as a scrape shows it (counters end in ``_total``)."""
        return self.prom_base + ("_total" if self.kind == "counter" else "")

    @property
    def prom_type(self) -> str:
        """``counter``, ``gauge`` (gauges and up-down counters) or ``histogram``."""
        return _PROM_TYPE[self.kind]

    @property
    def prom_unit(self) -> str:
        """The unit as Prometheus/OpenMetrics names it (``seconds``, ``bytes`` or empty)."""
        return _unit_suffix(self.unit)


def _histogram(key: str) -> Reader:
    def read(target: Any, snap: Mapping[str, Any]) -> Any:
        hist = snap.get("histograms", {}).get(key, snap.get(key))
        return hist if isinstance(hist, Mapping) and "counts" in hist else None

    return read


def _p(key: str, kind: Kind, name: str, unit: str, description: str, **extra: Any) -> MetricSpec:
    if kind == "histogram":
        extra.setdefault("read", _histogram(key))
        extra.setdefault("buckets", HISTOGRAMS[key])
    return MetricSpec(f"papyra.persistence.{name}", kind, unit, description, key, **extra)


def _up(target: Any, snap: Mapping[str, Any]) -> Any:
    failed = snap.get("failed")
    return None if failed is None else 1 - int(bool(failed))


def _last_write(target: Any, snap: Mapping[str, Any]) -> Any:
    return snap.get("last_write_timestamp") or None  # 0.0 = nothing written yet: not known


def _buffered(target: Any, snap: Mapping[str, Any]) -> Any:
    return getattr(target, "buffered", None)  # Redis only


PERSISTENCE_METRICS: tuple[MetricSpec, ...] = (
    _p("records_written", "counter", "records.written", "{record}", "Records written to the store."),
    _p("bytes_written", "counter", "written", "By", "Encoded bytes written to the store."),
    _p("write_errors", "counter", "write.errors", "{error}",
       "Failed writes (transient outages and fail-stop errors)."),
    _p("fsyncs", "counter", "fsyncs", "{fsync}", "fsync calls completed."),
    _p("scans", "counter", "scans", "{scan}", "Integrity scans run."),
    _p("scan_errors", "counter", "scan.errors", "{error}", "Scans that failed."),
    _p("anomalies_detected", "counter", "anomalies.detected", "{anomaly}", "Anomalies reported by scans."),
    _p("recoveries", "counter", "recoveries", "{recovery}", "Recoveries run."),
    _p("recovery_errors", "counter", "recovery.errors", "{error}", "Recoveries that failed."),
    _p("compactions", "counter", "compactions", "{compaction}", "Compactions run."),
    _p("compaction_errors", "counter", "compaction.errors", "{error}", "Compactions that failed."),
    _p("torn_tails_truncated", "counter", "torn_tails.truncated", "{line}",
       "Partial final lines cut off before appending (after a crash)."),
    _p("records_dropped", "counter", "records.dropped", "{record}",
       "Accepted records that could not be written (fail-stop, or close timed out)."),
    _p("reconnects", "counter", "reconnects", "{reconnect}",
       "Times the backend became reachable again after an outage (Redis)."),
    _p("lock_timeouts", "counter", "lock.timeouts", "{timeout}", "Store lock acquisitions that timed out."),
    _p("backpressure_rejections", "counter", "backpressure.rejections", "{record}",
       "Records refused because the writer queue was full."),
    _p("encoding_errors", "counter", "encoding.errors", "{record}",
       "Records refused because they could not be encoded (cyclic or too deeply nested payload, "
       "colliding keys, over the line size limit, non-finite timestamp)."),
    _p("unreadable_lines_skipped", "counter", "unreadable_lines.skipped", "{line}",
       "Unreadable lines (or Redis entries) skipped by reads; scan() reports them."),
    _p("queue_depth", "updowncounter", "queue.depth", "{record}",
       "Records accepted and waiting for the writer thread."),
    _p("failed", "gauge", "up", "1",
       "1 while the backend's writer works, 0 once it is fail-stopped after an I/O error.", read=_up),
    _p("last_write_timestamp", "gauge", "last_write.timestamp", "s",
       "Time of the last successful write (Unix epoch seconds; absent before the first).",
       read=_last_write),
    _p("buffered", "updowncounter", "buffered_records", "{record}",
       "Records accepted but not yet in Redis (held in memory while Redis is unreachable; Redis only).",
       read=_buffered),
    _p("batch_size", "histogram", "batch.size", "{record}", "Records per group-commit batch."),
    _p("fsync_seconds", "histogram", "fsync.duration", "s",
       "fsync=always: duration of one batch's durable append (waiting for the store lock, write, fsync; "
       "one observation per batch). fsync=interval: duration of one periodic fsync. Never observed "
       "with fsync=never or by Redis."),
    _p("write_seconds", "histogram", "write.duration", "s",
       "One observation per written batch: time from the enqueue (record_*) of the batch's oldest "
       "record until the whole batch was written - the worst queue-to-store latency in the batch. "
       "Includes queueing, store-lock waits, retries during an outage (Redis) and, with "
       "fsync=always, the fsync; with fsync=interval/never the batch is not yet durable then."),
)


def _r(key: str, kind: Kind, name: str, unit: str, description: str, **extra: Any) -> MetricSpec:
    if kind == "histogram":
        extra.setdefault("read", _histogram(key))
        extra.setdefault("buckets", LATENCY_BOUNDS)
    return MetricSpec(f"papyra.actor.{name}", kind, unit, description, key, **extra)


RUNTIME_METRICS: tuple[MetricSpec, ...] = (
    _r("actors_alive", "updowncounter", "alive", "{actor}", "Actors currently running."),
    _r("actors_spawned_total", "counter", "spawned", "{actor}", "Actors spawned."),
    _r("actors_stopped_total", "counter", "stopped", "{actor}", "Actors terminated."),
    _r("messages_processed_total", "counter", "messages.processed", "{message}",
       "Messages handled by actors (success or failure)."),
    _r("actor_crashes_total", "counter", "crashes", "{crash}", "Actor failures handled by supervision."),
    _r("actor_restarts_total", "counter", "restarts", "{restart}", "Actor restarts."),
    _r("dead_letters_total", "counter", "dead_letters", "{message}", "Messages that could not be delivered."),
    _r("dead_letters_evicted_total", "counter", "dead_letters.evicted", "{message}",
       "Dead letters evicted from the bounded in-memory ring."),
    _r("recorder_failures_total", "counter", "recorder.failures", "{record}",
       "Persistence record_* calls that raised (logged, never fatal)."),
    _r("recorder_drops_total", "counter", "recorder.drops", "{record}",
       "Records dropped because the persistence queue stayed full (or the recorder was closed)."),
    _r("workers", "updowncounter", "workers", "{thread}", "Live worker threads."),
    _r("workers_peak", "gauge", "workers.peak", "{thread}", "Most worker threads at once."),
    _r("recorder_queue_depth", "updowncounter", "recorder.queue.depth", "{record}",
       "Records waiting to be handed to the persistence backend."),
    _r("mailbox_depth", "updowncounter", "mailbox.depth", "{message}",
       "Queued messages per actor class (never per actor id).", attributes=("papyra.actor_class",)),
    _r("ask_latency_seconds", "histogram", "ask.duration", "s", "ask() round-trip latency."),
)


def _s(key: str, name: str, unit: str, description: str, **extra: Any) -> MetricSpec:
    return MetricSpec(f"papyra.persistence.{name}", "gauge", unit, description, key, **extra)


#: Figures derived from a store's content by ``papyra metrics persistence`` (not process state):
#: each is read from the CLI's figures dict under ``key``.
STORE_METRICS: tuple[MetricSpec, ...] = (
    _s("exists", "store.exists", "1", "1 if the store exists, 0 for a file store not created yet."),
    _s("records", "store.records", "{record}",
       "Records in the store per kind (file stores: every readable line, before retention).",
       attributes=("papyra.kind",)),
    _s("bytes", "store.records.size", "By", "Encoded bytes of the store's records per kind.",
       attributes=("papyra.kind",)),
    _s("size_bytes", "store.size", "By", "Size of the store's files (file stores)."),
    _s("bound_bytes", "store.size.bound", "By",
       "The store's size bound: max_bytes x max_files of a rotating set, else the retention "
       "max_total_bytes (absent when unbounded)."),
    _s("files", "store.files", "{file}", "Files in the store (a rotating set: its members)."),
    _s("unreadable_lines", "store.unreadable_lines", "{line}",
       "Lines of the store's files that are not readable records."),
    _s("anomalies", "store.anomalies", "{anomaly}", "Anomalies found by the integrity scan."),
    _s("oldest", "oldest_record.timestamp", "s", "Time of the oldest record (Unix epoch seconds)."),
    _s("newest", "newest_record.timestamp", "s", "Time of the newest record (Unix epoch seconds)."),
    _s("scan_timestamp", "store.scan.timestamp", "s",
       "When these store figures were taken (Unix epoch seconds)."),
    _s("scan_seconds", "store.scan.duration", "s", "How long taking these store figures took."),
)

#: Every group, as the README's catalogue table lists them.
CATALOGUE: dict[str, tuple[MetricSpec, ...]] = {
    "persistence backend (live)": PERSISTENCE_METRICS,
    "actor system (live)": RUNTIME_METRICS,
    "store (papyra metrics persistence)": STORE_METRICS,
}


def target_kind(target: Any) -> Literal["persistence", "runtime"]:
    """Whether ``target`` is a persistence backend or an ActorSystem (duck-typed). O(1)."""
    if hasattr(target, "spawn") and hasattr(target, "persistence"):
        return "runtime"
    return "persistence"


def specs_for(target: Any) -> tuple[MetricSpec, ...]:
    """The live specs of a backend or an ActorSystem. O(1)."""
    return RUNTIME_METRICS if target_kind(target) == "runtime" else PERSISTENCE_METRICS


def store_of(backend: Any) -> str:
    """The ``papyra.store`` of a backend: its file path, the Redis key prefix, or its name. Never
    a URL (so never credentials). O(1)."""
    path = getattr(backend, "path", None)
    if path is not None:
        return str(path)
    config = getattr(backend, "config", None)
    prefix = getattr(config, "prefix", None)
    if isinstance(prefix, str):
        return prefix
    return str(getattr(backend, "backend_name", type(backend).__name__))


def identity(target: Any) -> dict[str, str]:
    """The attributes that identify ``target``'s series: ``papyra.system_id`` for an
    ActorSystem; ``papyra.backend`` and ``papyra.store`` (plus ``papyra.system_id`` for Redis)
    for a backend. O(1)."""
    if target_kind(target) == "runtime":
        return {"papyra.system_id": str(target.system_id)}
    attrs = {
        "papyra.backend": str(getattr(target, "backend_name", type(target).__name__)),
        "papyra.store": store_of(target),
    }
    system_id = getattr(getattr(target, "config", None), "system_id", None)
    if isinstance(system_id, str):
        attrs["papyra.system_id"] = system_id
    return attrs


def label_name(attribute: str) -> str:
    """The Prometheus label of an attribute: ``papyra.system_id`` -> ``system_id``."""
    return attribute.removeprefix("papyra.").replace(".", "_")


_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_RESERVED = frozenset({"le", "quantile"}) | {
    label_name(a)
    for a in ("papyra.system_id", "papyra.backend", "papyra.store", "papyra.actor_class", "papyra.kind")
}


def validate_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Extra constant labels (attributes), checked: names like ``env`` or ``region``
    (``[a-zA-Z_][a-zA-Z0-9_]*``, not ``__``-prefixed, not one Papyra sets itself), string values.
    Raises :class:`~papyra.exceptions.ConfigurationError` otherwise. O(len(labels))."""
    out: dict[str, str] = {}
    for name, value in (labels or {}).items():
        if not isinstance(name, str) or not _LABEL.match(name) or name.startswith("__"):
            raise ConfigurationError(
                f"invalid label name {name!r}: use letters, digits and '_' (not first a digit, "
                "not starting with '__')"
            )
        if name in _RESERVED:
            raise ConfigurationError(f"label {name!r} is set by Papyra itself and cannot be given")
        if not isinstance(value, str):
            raise ConfigurationError(f"label {name!r} must have a string value, got {type(value).__name__}")
        out[name] = value
    return out


def markdown_table() -> str:
    """The catalogue as the README's Markdown table (name, kind, unit, attributes, meaning)."""
    rows = [
        "| Prometheus name (OpenTelemetry name) | kind | unit | attributes | meaning |",
        "|---|---|---|---|---|",
    ]
    for group, specs in CATALOGUE.items():
        rows.append(f"| **{group}** | | | | |")
        for spec in specs:
            attrs = ", ".join(f"`{label_name(a)}`" for a in spec.attributes)
            rows.append(
                f"| `{spec.prom_name}` (`{spec.name}`) | {spec.kind} | `{spec.unit}` | {attrs} | "
                f"{spec.description} |"
            )
    return "\n".join(rows) + "\n"
