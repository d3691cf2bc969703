"""Workloads shared by the persistence benchmarks (same records, same producers everywhere)."""

from __future__ import annotations

import threading
from typing import Any

from papyra.persistence.models import PersistedEvent


def crash_record(i: int) -> PersistedEvent:
    """A ~200-byte event record, like an actor crash (1,000 distinct actor addresses)."""
    return PersistedEvent(
        system_id="bench",
        actor_address=f"bench:{i % 1000}",
        event_type="ActorCrashed",
        payload={"i": i, "error": "RuntimeError: boom", "reason": "RuntimeError: boom", "tags": ["a", "b"]},
        timestamp=1.7e9 + i,
    )


def produce_and_flush(backend: Any, records: list[Any], producers: int = 4) -> None:
    """``record_event`` every record from ``producers`` threads (one slice each), then ``flush()``.

    Raises AssertionError when the flush did not complete.
    """
    per = len(records) // producers

    def produce(k: int) -> None:
        for record in records[k * per : (k + 1) * per]:
            backend.record_event(record)

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.flush(120)
