"""Paged stream reading, scan, recovery and compaction for the Redis Streams backend.

A mixin of :class:`~papyra.persistence.backends.redis.RedisStreamsPersistence`: it relies on the
backend's client, config, metrics, retention and error mapping.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from papyra.persistence.backends.redis_config import KIND_STREAMS, RedisStreamsConfig
from papyra.persistence.backends.redis_topology import ordered_steps
from papyra.persistence.grammar import LineError, decode_record, record_kind
from papyra.persistence.metrics import PersistenceMetrics
from papyra.persistence.models import (
    RECORD_KINDS,
    CompactionReport,
    PersistedRecord,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.retention import RetentionPolicy, RetentionVerdict

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["StreamMaintenanceMixin", "decode_entry"]

_MAX_ID_SEQ = 18446744073709551615
_BadEntries = dict[str, list[tuple[str, "bytes | None", str]]]


def _move_and_delete(
    client: Any, cluster: bool, key: str, moves: list[tuple[str, dict[str, Any]]], doomed: list[str]
) -> None:
    """Copy ``moves`` to their streams, then ``XDEL`` ``doomed`` from ``key`` (see ordered_steps)."""
    ordered_steps(
        client,
        cluster,
        lambda pipe: [pipe.xadd(target, entry) for target, entry in moves],
        lambda pipe: pipe.xdel(key, *doomed),
    )


def _s(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def _split_id(entry_id: Any) -> tuple[int, int]:
    ms, _, seq = _s(entry_id).partition("-")
    return int(ms), int(seq or 0)


def _id_before(entry_id: Any) -> str | None:
    """The largest stream id smaller than ``entry_id`` (None below 0-0). Works on Redis < 6.2."""
    ms, seq = _split_id(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{_MAX_ID_SEQ}" if ms > 0 else None


def _id_after(entry_id: Any) -> str:
    ms, seq = _split_id(entry_id)
    return f"{ms}-{seq + 1}" if seq < _MAX_ID_SEQ else f"{ms + 1}-0"


def decode_entry(stream: str, data: bytes | None) -> PersistedRecord:
    """The record in a stream entry's ``data`` field, by the line grammar; raises
    :class:`~papyra.persistence.grammar.LineError` when it is missing, unreadable, or a record of
    another kind than ``stream`` holds. One decode, O(entry size)."""
    if data is None:
        raise LineError("missing 'data' field")
    record = decode_record(data)
    if KIND_STREAMS[record_kind(record)] != stream:
        raise LineError(f"record of kind {record_kind(record)!r} in the {stream} stream")
    return record


class StreamMaintenanceMixin:
    """Paged reads, ``scan``, ``recover`` and ``compact`` over the three streams."""

    backend_name: str
    _config: RedisStreamsConfig
    _client: Any
    _metrics: PersistenceMetrics
    _retention: RetentionPolicy
    _maint_lock: threading.Lock

    def _redis_errors(self, op: str) -> AbstractContextManager[None]:  # provided by the backend
        raise NotImplementedError

    def _ensure_visible(self) -> None:  # provided by the backend
        raise NotImplementedError

    def _iter_newest(
        self, key: str, *, first_page: int | None = None, min_id: str = "-"
    ) -> Iterator[tuple[Any, dict[bytes, bytes]]]:
        """Entries of ``key`` newest first, ``XREVRANGE … COUNT`` one page at a time."""
        page = first_page or self._config.page_size
        upper: str | None = "+"
        while upper is not None:
            with self._redis_errors("read"):
                batch = self._client.xrevrange(key, max=upper, min=min_id, count=page)
            yield from batch
            if len(batch) < page:
                return
            upper = _id_before(batch[-1][0])
            page = self._config.page_size

    def _iter_oldest(self, key: str) -> Iterator[tuple[Any, dict[bytes, bytes]]]:
        page = self._config.page_size
        lower = "-"
        while True:
            with self._redis_errors("read"):
                batch = self._client.xrange(key, min=lower, max="+", count=page)
            yield from batch
            if len(batch) < page:
                return
            lower = _id_after(batch[-1][0])

    def stream_records(
        self,
        kinds: tuple[type[PersistedRecord], ...] | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> Iterator[PersistedRecord]:
        """Lazily yield the retained records of ``kinds`` (None: all) within ``since``/``until``,
        newest first **within each kind** (one stream per kind, read one after the other:
        events, audits, dead letters) — the streaming form of ``list_*``, same selection
        (retention per stream, ``since`` mapped to a minimum stream id with
        ``config.since_id_slack``). Memory: one page (``page_size`` entries). Cost: paged
        ``XREVRANGE`` round trips, only as far as consumed; unreadable entries count in
        ``unreadable_lines_skipped``."""
        self._ensure_visible()
        for kind, cls in RECORD_KINDS.items():
            if kinds is None or cls in kinds:
                yield from self._stream_kind(KIND_STREAMS[kind], cls, since, until)

    def _stream_kind(
        self,
        stream: str,
        cls: type[PersistedRecord],
        since: float | None,
        until: float | None,
        *,
        first_page: int | None = None,
    ) -> Generator[PersistedRecord, None, None]:
        """The selection of ``list_*`` for one stream, lazily, newest first (``first_page``: the
        size of the first ``XREVRANGE`` page, for a small ``limit``). ``_list`` takes the newest
        ``limit`` of it; unreadable entries are counted in ``unreadable_lines_skipped`` once the
        generator is exhausted or closed."""
        policy = self._retention
        window = None if policy.is_unbounded else policy.window()
        min_id = "-"
        if since is not None and self._config.since_id_slack is not None:
            min_id = str(max(0, int((since - self._config.since_id_slack) * 1000)))
        skipped = 0
        try:
            key = self._config.stream_key(stream)
            for _entry_id, fields in self._iter_newest(key, first_page=first_page, min_id=min_id):
                data = fields.get(b"data", b"")
                try:
                    record = decode_record(data)
                except LineError:
                    skipped += 1
                    continue
                if type(record) is not cls:
                    continue
                if window is not None:
                    verdict = window.offer(record.timestamp, len(data))
                    if verdict is RetentionVerdict.STOP:
                        return
                    if verdict is RetentionVerdict.SKIP:
                        continue
                ts = record.timestamp
                if (since is None or ts >= since) and (until is None or ts <= until):
                    yield record
        finally:
            if skipped:
                self._metrics.incr("unreadable_lines_skipped", skipped)

    # ------------------------------------------------------------------ health

    def _find_bad(self) -> tuple[list[PersistenceAnomaly], _BadEntries, int]:
        """Anomalies, the bad entries per stream, and how many entries hold valid records."""
        anomalies: list[PersistenceAnomaly] = []
        bad: _BadEntries = {}
        good = 0
        sample = self._config.scan_sample_size
        for stream in KIND_STREAMS.values():
            key = self._config.stream_key(stream)
            entries = (
                self._iter_oldest(key)
                if sample is None
                else itertools.islice(self._iter_newest(key, first_page=sample), sample)
            )
            for entry_id, fields in entries:
                try:
                    decode_entry(stream, fields.get(b"data"))
                except LineError as exc:
                    reason = exc.reason
                else:
                    good += 1
                    continue
                eid = _s(entry_id)
                anomalies.append(
                    PersistenceAnomaly(
                        type=PersistenceAnomalyType.CORRUPTED_LINE,
                        path=key,
                        detail=f"entry {eid}: {reason}",
                    )
                )
                bad.setdefault(key, []).append((eid, fields.get(b"data"), reason))
        return anomalies, bad, good

    def scan(self) -> PersistenceScanReport:
        """Check every entry of the three streams (paged), or the newest ``scan_sample_size`` of
        each. Each bad entry is a ``CORRUPTED_LINE`` whose path is the stream key and whose
        detail starts with ``entry <id>:``. Read-only.

        Cost: first the visibility wait for this process's buffer, then ``XRANGE``/``XREVRANGE``
        pages (``page_size`` entries per round trip) over every entry, or over the newest
        ``scan_sample_size`` of each stream; one decode per entry. No writes."""
        return self._scan()[0]

    def _scan(self) -> tuple[PersistenceScanReport, _BadEntries, int]:
        self._metrics.incr("scans")
        try:
            self._ensure_visible()
            anomalies, bad, good = self._find_bad()
        except Exception:
            self._metrics.incr("scan_errors")
            raise
        if anomalies:
            self._metrics.incr("anomalies_detected", len(anomalies))
        return PersistenceScanReport(backend=self.backend_name, anomalies=tuple(anomalies)), bad, good

    def recover(
        self, config: PersistenceRecoveryConfig | None = None, *, dry_run: bool = False
    ) -> PersistenceRecoveryReport:
        """REPAIR deletes the entries the scan found bad; QUARANTINE first copies each (fields
        ``source``, ``id``, ``data``, ``reason``, ``timestamp``) to ``config.quarantine_key(stream)``,
        in the same MULTI/EXEC as the delete. ``quarantine_dir`` is ignored. Acts on exactly the
        entries its own scan reported. ``dry_run=True`` returns the same report without sending
        the copies and deletes (no ``recoveries`` count).

        Cost: one :meth:`scan`, then, under this backend's maintenance lock (process-local), one
        ``MULTI``/``EXEC`` round trip per stream with bad entries (copy + ``XDEL``)."""
        if not dry_run:
            self._metrics.incr("recoveries")
        mode = (config or PersistenceRecoveryConfig()).mode
        scan, bad, good = self._scan()
        if mode is PersistenceRecoveryMode.IGNORE or not bad:
            return PersistenceRecoveryReport(backend=self.backend_name, scan=scan)
        repaired: list[str] = []
        quarantined: list[str] = []
        try:
            with self._maint_lock, self._redis_errors("recover"):
                for key, entries in bad.items():
                    moves: list[tuple[str, dict[str, Any]]] = []
                    if mode is PersistenceRecoveryMode.QUARANTINE:
                        qkey = self._config.quarantine_key(key)
                        now = repr(time.time())
                        moves = [(qkey, {"source": key, "id": eid, "data": data or b"",
                                         "reason": reason, "timestamp": now})
                                 for eid, data, reason in entries]
                        quarantined.append(qkey)
                    doomed = [eid for eid, _, _ in entries]
                    if not dry_run:
                        _move_and_delete(self._client, self._config.cluster, key, moves, doomed)
                    repaired.append(key)
        except Exception:
            self._metrics.incr("recovery_errors")
            raise
        removed = sum(len(entries) for entries in bad.values())
        return PersistenceRecoveryReport(
            backend=self.backend_name, scan=scan,
            repaired_files=tuple(repaired), quarantined_files=tuple(quarantined),
            kept_records=good, removed_lines=removed,
            quarantined_lines=removed if mode is PersistenceRecoveryMode.QUARANTINE else 0,
        )

    def compact(self, *, dry_run: bool = False) -> CompactionReport:
        """Make retention physical, per stream, exactly: ``max_records`` with ``XTRIM MAXLEN``;
        age and byte limits with one newest-first pass (``XTRIM MINID`` below the oldest kept
        entry, ``XDEL`` for too-old entries in between). Undecodable entries are left to
        ``recover()`` unless older than the cut. Byte figures are None.

        ``dry_run=True`` runs the same pass and counts what the trims and deletes would remove
        instead of sending them (no ``compactions`` count).

        Cost: ``XLEN`` of each stream before and after; ``max_records`` is one ``XTRIM`` per
        stream; age/byte limits add one newest-first paged read of each stream (stopping at the
        cut) and ``XTRIM MINID``/``XDEL`` round trips. O(retained entries) reads."""
        if not dry_run:
            self._metrics.incr("compactions")
        try:
            self._ensure_visible()
            with self._maint_lock, self._redis_errors("compact"):
                keys = self._config.stream_keys
                lengths = [int(self._client.xlen(k)) for k in keys]
                relative = removed = 0
                if not self._retention.is_unbounded:
                    for key, length in zip(keys, lengths, strict=True):
                        kept_relative, gone = self._compact_stream(key, length, dry_run=dry_run)
                        relative += kept_relative
                        removed += gone
                before = sum(lengths)
                after = before - removed if dry_run else sum(int(self._client.xlen(k)) for k in keys)
        except Exception:
            if not dry_run:
                self._metrics.incr("compaction_errors")
            raise
        return CompactionReport(backend=self.backend_name, before_records=before, after_records=after,
                                relative_timestamp_records=relative)

    def _compact_stream(self, key: str, length: int, *, dry_run: bool) -> tuple[int, int]:
        """Apply retention to one stream of ``length`` entries (or, ``dry_run``, only count).
        Returns ``(records kept only because their timestamps are relative (see
        :func:`~papyra.persistence.retention.is_too_old`), entries removed)``."""
        policy = self._retention
        if policy.max_age_seconds is None and policy.max_total_bytes is None:
            if not dry_run:
                self._client.xtrim(key, maxlen=policy.max_records, approximate=False)
            return 0, max(0, length - (policy.max_records or length))
        window = policy.window()
        doomed: list[Any] = []
        removed = seen = 0
        for entry_id, fields in self._iter_newest(key):
            seen += 1
            data = fields.get(b"data")
            try:
                record = decode_record(data) if data is not None else None
            except LineError:
                record = None
            if record is None:
                continue
            verdict = window.offer(record.timestamp, len(data or b""))
            if verdict is RetentionVerdict.STOP:  # this entry and every older one go
                if not dry_run:
                    self._client.xtrim(key, minid=_id_after(entry_id), approximate=False)
                removed += max(0, length - seen + 1)
                break
            if verdict is RetentionVerdict.SKIP:
                doomed.append(entry_id)
                if len(doomed) >= self._config.page_size:
                    removed += self._delete(key, doomed, dry_run=dry_run)
        removed += self._delete(key, doomed, dry_run=dry_run)
        return window.relative_kept, removed

    def _delete(self, key: str, doomed: list[Any], *, dry_run: bool) -> int:
        """``XDEL`` the ``doomed`` entries (not with ``dry_run``) and clear the list; returns
        how many there were."""
        count = len(doomed)
        if count and not dry_run:
            self._client.xdel(key, *doomed)
        doomed.clear()
        return count
