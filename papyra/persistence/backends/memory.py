"""In-memory backend: the default for an ``ActorSystem`` without persistence configured.

Records live in one list (one log for all kinds, like a file store) guarded by a lock; nothing
survives the process. ``record_*`` is O(1) plus one msgspec encode and one decode of the encoded
line: the encode gives the record's real encoded size for ``max_total_bytes`` and validates it,
and keeping the *decoded* record means the memory backend returns exactly what the file and
Redis backends return (plain JSON values: sets and tuples as lists, NaN as ``None``, bytes as
base64, non-string keys as ``json.dumps`` writes them, other objects as their ``repr``) instead
of the live objects it was given. Reads are O(n) under the lock; ``compact()`` applies retention physically.
"""

from __future__ import annotations

import threading
from typing import Any

from papyra.persistence.base import PersistenceBackend, PersistenceBackendCapabilities, R, select_window
from papyra.persistence.grammar import decode_record, encode_record
from papyra.persistence.models import (
    CompactionReport,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistedRecord,
    PersistenceRecoveryConfig,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.retention import RetentionPolicy, apply_retention

__all__ = ["InMemoryPersistence"]


class InMemoryPersistence(PersistenceBackend):
    """Thread-safe in-memory store with the full backend contract.

    Costs (n = records held; one internal lock, no I/O, no fsync):

    * ``record_*``: one encode + one decode of the record (O(record size)), then an O(1) append
      under the lock.
    * ``list_*``: O(n) — copies the log under the lock, applies retention and filters outside it.
    * ``compact()``: O(n) under the lock. ``scan()``/``recover()``: O(1) (nothing can be torn).
    * ``flush()``/``close()``: O(1), nothing to wait for. ``metrics``: O(1).
    * ``events``/``audits``/``dead_letters``: as ``list_*``. ``clear()``: O(1) under the lock.
    """

    backend_name = "memory"

    def __init__(self, *, retention_policy: RetentionPolicy | None = None) -> None:
        super().__init__(retention_policy=retention_policy)
        self._lock = threading.Lock()
        self._log: list[tuple[PersistedRecord, int]] = []

    @property
    def capabilities(self) -> PersistenceBackendCapabilities:
        """Everything but consumer groups and durability; ``write_behind`` (``record_*`` only
        appends in memory). O(1)."""
        return PersistenceBackendCapabilities(write_behind=True)

    def _record(self, record: PersistedRecord) -> None:
        line = encode_record(record)  # validates too (EncodingError)
        stored = decode_record(line[:-1])  # plain values, as every other backend returns them
        size = len(line)
        with self._lock:
            self._log.append((stored, size))
        self._metrics.add_many(records_written=1, bytes_written=size)

    def _retained(self) -> list[tuple[PersistedRecord, int]]:
        with self._lock:
            log = list(self._log)
        return apply_retention(
            log, self._retention, timestamp_of=lambda e: e[0].timestamp, size_of=lambda e: e[1]
        )

    def _list(
        self, kind: type[R], *, limit: int | None, since: float | None, until: float | None
    ) -> list[R]:
        records: list[R] = [r for r, _ in self._retained() if type(r) is kind]
        return select_window(records, limit=limit, since=since, until=until)

    # Snapshot properties (all retained records of one kind, oldest first).
    @property
    def events(self) -> tuple[PersistedEvent, ...]:
        """All retained events, oldest first (``list_events()``; O(n))."""
        return self.list_events()

    @property
    def audits(self) -> tuple[PersistedAudit, ...]:
        """All retained audits, oldest first (``list_audits()``; O(n))."""
        return self.list_audits()

    @property
    def dead_letters(self) -> tuple[PersistedDeadLetter, ...]:
        """All retained dead letters, oldest first (``list_dead_letters()``; O(n))."""
        return self.list_dead_letters()

    def clear(self) -> None:
        """Drop every record. O(1) under the lock (the list is released)."""
        with self._lock:
            self._log.clear()

    def scan(self) -> PersistenceScanReport:
        """Nothing in memory can be torn or corrupt: always a clean report. O(1)."""
        self._metrics.incr("scans")
        return PersistenceScanReport(backend=self.backend_name)

    def recover(
        self, config: PersistenceRecoveryConfig | None = None, *, dry_run: bool = False
    ) -> PersistenceRecoveryReport:
        """A no-op that reports the (clean) scan; ``dry_run=True`` returns the same report
        without counting a recovery. O(1)."""
        if not dry_run:
            self._metrics.incr("recoveries")
        return PersistenceRecoveryReport(backend=self.backend_name, scan=self.scan())

    def compact(self, *, dry_run: bool = False) -> CompactionReport:
        """Drop records outside retention. O(n) under the lock; no I/O. ``dry_run=True`` reports
        what this compaction would do now — the same retention pass, nothing dropped, no
        ``compactions`` count."""
        if not dry_run:
            self._metrics.incr("compactions")
        with self._lock:
            before = len(self._log)
            before_bytes = sum(size for _, size in self._log)
            window = self._retention.window()
            kept = apply_retention(
                self._log,
                self._retention,
                timestamp_of=lambda e: e[0].timestamp,
                size_of=lambda e: e[1],
                window=window,
            )
            if not dry_run:
                self._log = kept
            after_bytes = sum(size for _, size in kept)
        return CompactionReport(
            backend=self.backend_name,
            before_records=before,
            after_records=len(kept),
            before_bytes=before_bytes,
            after_bytes=after_bytes,
            relative_timestamp_records=window.relative_kept,
        )

    def describe(self) -> dict[str, Any]:
        """Backend name, retention and the number of records held. O(1)."""
        info = super().describe()
        with self._lock:
            info["records"] = len(self._log)
        return info
