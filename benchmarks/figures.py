"""The tracked figures: one normalised figure per benchmark, each against an in-run reference.

A figure is a speed ratio, ``reference time / papyra time`` for the same work measured in the same
run (rounds alternate between the two sides), so **higher is better** and machine speed cancels
out. ``benchmarks.compare`` fails a run when a figure fell by more than its ``tolerance``
(a fraction of the baseline figure) and refuses to judge when a reference's own time moved by more
than ``reference_drift`` from the baseline's (the machine was busier, or is another machine).
This module is plain data: no pytest, no papyra import.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REFERENCE_DRIFT = 0.30


@dataclass(frozen=True)
class Figure:
    """One tracked figure.

    ``tolerance``: the largest accepted drop, as a fraction of the baseline figure (0.15 means the
    run fails below 85 % of the baseline). ``target``: the product's goal for the figure (shown,
    never judged by ``compare``); None when there is none. ``reference_drift``: the largest
    accepted change of the reference's own median time against the baseline's before the run is
    declared busy.
    """

    name: str
    suite: str
    title: str
    reference: str
    tolerance: float
    target: float | None = None
    reference_drift: float = DEFAULT_REFERENCE_DRIFT


FIGURES: tuple[Figure, ...] = (
    Figure("tell_vs_pykka", "runtime", "`tell` throughput into one actor", "pykka `ThreadingActor`",
           0.20, target=2.5),
    Figure("tell_vs_raw_limit", "runtime", "`tell` throughput into one actor",
           "raw limit: bare `collections.deque` + one polling consumer thread", 0.25),
    Figure("ask_vs_pykka", "runtime", "`ask` round trip to an idle actor", "pykka `ThreadingActor`",
           0.15, target=1.25),
    Figure("spawn_stop_vs_pykka", "runtime", "spawn + stop, per-actor rate", "pykka `ThreadingActor`",
           0.25, target=6.0),
    Figure("fan_in_vs_pykka", "runtime", "fan-in: 8 producer threads into one actor, nothing lost",
           "pykka `ThreadingActor`", 0.20, target=5.0),
    Figure("durable_write_vs_raw", "persistence",
           "durable throughput, `fsync=\"always\"`, 4 producer threads, then `flush()`",
           "msgspec encode + write in 1,000-record chunks, one fsync per chunk", 0.20, target=0.5),
    Figure("scan_vs_raw", "persistence", "`scan()`", "raw msgspec typed-decode loop over the same file",
           0.15, target=0.5),
    Figure("compaction_vs_raw", "persistence", "`compact()` keeping half",
           "raw decode + encode (kept half) + write + fsync", 0.15, target=0.33),
    Figure("list_tail_vs_scan", "persistence", "`list_events(limit=100)`", "a full `scan()` of the file",
           0.50, target=50.0),
    Figure("rotating_vs_json", "rotating",
           "sustained durable throughput, 4 producers, `fsync=\"always\"`, rotation every 5 MB, "
           "`max_files=5`", "`JsonFilePersistence`, same records and settings", 0.15, target=0.8),
    Figure("redis_write_vs_raw", "redis", "write throughput (`record_event` for each, then `flush()`)",
           "raw redis-py pipelined `XADD` in batches of 100, JSON encoded beforehand", 0.15, target=0.7),
    Figure("redis_tail_vs_raw", "redis", "newest-100 read (`list_events(limit=100)`)",
           "raw redis-py `XREVRANGE COUNT 100` + msgspec decode", 0.25),
    Figure("otel_write_overhead", "observability",
           "durable writes (4 producers, `fsync=\"always\"`) with the backend instrumented",
           "the same, not instrumented", 0.15, target=0.95),
    Figure("otel_tell_overhead", "observability", "actor `tell` throughput with the system instrumented",
           "the same, not instrumented", 0.15, target=0.95),
)

BY_NAME: dict[str, Figure] = {figure.name: figure for figure in FIGURES}
