"""The metric catalogue: every number Papyra exports, with its kind, unit and meaning.

Both exporters (:mod:`papyra.contrib.otel`, :mod:`papyra.contrib.prometheus`) read this table, so
a metric has the same meaning everywhere. ``key`` is the key in ``metrics.snapshot()``; names
follow each ecosystem's conventions (OpenTelemetry dotted names with UCUM units; Prometheus
snake case with ``_total``/``_seconds``/``_bytes`` suffixes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "PERSISTENCE_METRICS",
    "RUNTIME_METRICS",
    "MetricSpec",
    "histogram_of",
    "specs_for",
    "target_kind",
]

Kind = Literal["counter", "gauge", "labelled_gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    key: str  # snapshot key (histograms: key under snapshot["histograms"])
    kind: Kind
    otel_name: str
    prom_name: str
    unit: str  # UCUM
    description: str
    label: str = ""  # labelled_gauge: the label carrying the snapshot dict's keys


def _p(key: str, kind: Kind, otel: str, prom: str, unit: str, desc: str) -> MetricSpec:
    return MetricSpec(key, kind, f"papyra.persistence.{otel}", f"papyra_persistence_{prom}", unit, desc)


PERSISTENCE_METRICS: tuple[MetricSpec, ...] = (
    _p("records_written", "counter", "records.written", "records_written_total", "{record}",
       "Records written to the store."),
    _p("bytes_written", "counter", "bytes.written", "written_bytes_total", "By",
       "Encoded bytes written to the store."),
    _p("write_errors", "counter", "write.errors", "write_errors_total", "{error}",
       "Failed writes (transient outages and fail-stop errors)."),
    _p("fsyncs", "counter", "fsyncs", "fsyncs_total", "{fsync}", "fsync calls completed."),
    _p("scans", "counter", "scans", "scans_total", "{scan}", "Integrity scans run."),
    _p("scan_errors", "counter", "scan.errors", "scan_errors_total", "{error}", "Scans that failed."),
    _p("anomalies_detected", "counter", "anomalies.detected", "anomalies_detected_total", "{anomaly}",
       "Anomalies reported by scans."),
    _p("recoveries", "counter", "recoveries", "recoveries_total", "{recovery}", "Recoveries run."),
    _p("recovery_errors", "counter", "recovery.errors", "recovery_errors_total", "{error}",
       "Recoveries that failed."),
    _p("compactions", "counter", "compactions", "compactions_total", "{compaction}", "Compactions run."),
    _p("compaction_errors", "counter", "compaction.errors", "compaction_errors_total", "{error}",
       "Compactions that failed."),
    _p("torn_tails_truncated", "counter", "torn_tails.truncated", "torn_tails_truncated_total", "{line}",
       "Partial final lines cut off before appending (after a crash)."),
    _p("records_dropped", "counter", "records.dropped", "records_dropped_total", "{record}",
       "Accepted records that could not be written (fail-stop)."),
    _p("reconnects", "counter", "reconnects", "reconnects_total", "{reconnect}",
       "Times the backend became reachable again after an outage (Redis)."),
    _p("lock_timeouts", "counter", "lock.timeouts", "lock_timeouts_total", "{timeout}",
       "Store lock acquisitions that timed out."),
    _p("backpressure_rejections", "counter", "backpressure.rejections", "backpressure_rejections_total",
       "{record}", "Records refused because the writer queue was full."),
    _p("encoding_errors", "counter", "encoding.errors", "encoding_errors_total", "{record}",
       "Records refused because they could not be encoded (cyclic or too deeply nested payload, "
       "colliding keys, over the line size limit, non-finite timestamp)."),
    _p("unreadable_lines_skipped", "counter", "unreadable_lines.skipped", "unreadable_lines_skipped_total",
       "{line}", "Unreadable lines (or Redis entries) skipped by reads; scan() reports them."),
    _p("queue_depth", "gauge", "queue.depth", "queue_depth_records", "{record}",
       "Records accepted and waiting for the writer thread."),
    _p("failed", "gauge", "failed", "failed", "1", "1 when the backend is fail-stopped after an I/O error."),
    _p("batch_size", "histogram", "batch.size", "batch_size_records", "{record}",
       "Records per group-commit batch."),
    _p("fsync_seconds", "histogram", "fsync.duration", "fsync_duration_seconds", "s",
       "fsync=always: duration of one batch's durable append (waiting for the store lock, write, fsync; "
       "one observation per batch). fsync=interval: duration of one periodic fsync. Never observed "
       "with fsync=never or by Redis."),
    _p("write_seconds", "histogram", "write.duration", "write_latency_seconds", "s",
       "One observation per written batch: time from the enqueue (record_*) of the batch's oldest "
       "record until the whole batch was written - the worst queue-to-store latency in the batch. "
       "Includes queueing, store-lock waits, retries during an outage (Redis) and, with "
       "fsync=always, the fsync; with fsync=interval/never the batch is not yet durable then."),
)


def _r(key: str, kind: Kind, otel: str, prom: str, unit: str, desc: str, label: str = "") -> MetricSpec:
    return MetricSpec(key, kind, f"papyra.actor.{otel}", f"papyra_actor_{prom}", unit, desc, label)


RUNTIME_METRICS: tuple[MetricSpec, ...] = (
    _r("actors_alive", "gauge", "alive", "alive", "{actor}", "Actors currently running."),
    _r("actors_spawned_total", "counter", "spawned", "spawned_total", "{actor}", "Actors spawned."),
    _r("actors_stopped_total", "counter", "stopped", "stopped_total", "{actor}", "Actors terminated."),
    _r("messages_processed_total", "counter", "messages.processed", "messages_processed_total",
       "{message}", "Messages handled by actors (success or failure)."),
    _r("actor_crashes_total", "counter", "crashes", "crashes_total", "{crash}",
       "Actor failures handled by supervision."),
    _r("actor_restarts_total", "counter", "restarts", "restarts_total", "{restart}", "Actor restarts."),
    _r("dead_letters_total", "counter", "dead_letters", "dead_letters_total", "{message}",
       "Messages that could not be delivered."),
    _r("dead_letters_evicted_total", "counter", "dead_letters.evicted", "dead_letters_evicted_total",
       "{message}", "Dead letters evicted from the bounded in-memory ring."),
    _r("recorder_failures_total", "counter", "recorder.failures", "recorder_failures_total", "{record}",
       "Persistence record_* calls that raised (logged, never fatal)."),
    _r("recorder_drops_total", "counter", "recorder.drops", "recorder_drops_total", "{record}",
       "Records dropped because the recorder queue was full or closed."),
    _r("workers", "gauge", "workers", "workers", "{thread}", "Live worker threads."),
    _r("workers_peak", "gauge", "workers.peak", "workers_peak", "{thread}", "Most worker threads at once."),
    _r("recorder_queue_depth", "gauge", "recorder.queue.depth", "recorder_queue_depth_records", "{record}",
       "Records waiting to be handed to the persistence backend."),
    _r("mailbox_depth", "labelled_gauge", "mailbox.depth", "mailbox_depth_messages", "{message}",
       "Queued messages per actor class.", "actor_class"),
    _r("ask_latency_seconds", "histogram", "ask.duration", "ask_duration_seconds", "s",
       "ask() round-trip latency."),
)


def histogram_of(snapshot: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """The histogram dict for ``key`` (persistence keeps them under ``"histograms"``)."""
    hist = snapshot.get("histograms", {}).get(key)
    if hist is None:
        hist = snapshot.get(key)
    return hist if isinstance(hist, Mapping) and "counts" in hist else None


def target_kind(target: Any) -> Literal["persistence", "runtime"]:
    """Whether ``target`` is a persistence backend or an ActorSystem (duck-typed)."""
    if hasattr(target, "spawn") and hasattr(target, "persistence"):
        return "runtime"
    return "persistence"


def specs_for(target: Any) -> tuple[MetricSpec, ...]:
    return RUNTIME_METRICS if target_kind(target) == "runtime" else PERSISTENCE_METRICS
