"""Consumer groups on the Redis Streams backend (for external consumers: shippers, analytics).

Delivery is **at-least-once**: an entry stays in the group's pending list (PEL) until it is
acked, and is delivered again (to the same consumer reading its history with ``read_id="0"``, or
to another via :meth:`~ConsumerGroupsMixin.claim` / :meth:`~ConsumerGroupsMixin.autoclaim`) if the
consumer dies before acking. Consumers must therefore be idempotent.

Two kinds of entries are never left pending for ever:

* **poison** entries, delivered more than ``config.max_deliveries`` times, are copied to the
  dead-letter stream ``config.dead_letter_key(kind)`` and acked;
* **malformed** entries (missing ``data``, bad JSON, unknown kind) are copied to the quarantine
  stream ``config.quarantine_key(stream)`` and acked on first delivery.

Both moves are one ``MULTI``/``EXEC`` with the ack (on a Cluster, where the streams may sit in
different slots: the move, then the ack — at-least-once), and both are reported to the caller in the
returned :class:`ConsumeResult` (``dead_lettered`` / ``quarantined``), next to the good entries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from papyra.persistence.backends.redis_config import RedisStreamsConfig, resolve_kind
from papyra.persistence.backends.redis_maintenance import decode_entry
from papyra.persistence.backends.redis_topology import ordered_steps
from papyra.persistence.grammar import LineError
from papyra.persistence.models import PersistedRecord

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = [
    "ConsumeResult",
    "ConsumerGroupsMixin",
    "MovedEntry",
    "PendingEntry",
    "PendingSummary",
    "RedisStreamEntry",
]


def _s(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


@dataclass(frozen=True, slots=True)
class RedisStreamEntry:
    """One delivered entry: stream id, decoded record and how often it has been delivered."""

    id: str
    record: PersistedRecord
    deliveries: int = 1
    stream: str = ""


@dataclass(frozen=True, slots=True)
class MovedEntry:
    """An entry that was taken out of the group (acked) and copied to ``moved_to``."""

    id: str
    reason: str
    moved_to: str
    deliveries: int = 1


@dataclass(frozen=True, slots=True)
class ConsumeResult(Sequence[RedisStreamEntry]):
    """What one consume/claim/autoclaim call delivered.

    Iterating (``len``, indexing) gives the good ``entries``. ``quarantined`` lists malformed
    entries, ``dead_lettered`` poison entries (both already acked and copied away),
    ``deleted_ids`` pending ids whose entry no longer exists (acked), and ``next_id`` is the
    cursor for the next :meth:`ConsumerGroupsMixin.autoclaim` (``"0-0"`` when done).
    """

    entries: tuple[RedisStreamEntry, ...] = ()
    quarantined: tuple[MovedEntry, ...] = ()
    dead_lettered: tuple[MovedEntry, ...] = ()
    deleted_ids: tuple[str, ...] = ()
    next_id: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[RedisStreamEntry]:
        return iter(self.entries)

    def __getitem__(self, index: Any) -> Any:
        return self.entries[index]


@dataclass(frozen=True, slots=True)
class PendingSummary:
    """``XPENDING`` summary: total pending, id range and pending count per consumer."""

    count: int
    min_id: str | None
    max_id: str | None
    consumers: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """One pending entry: owner, idle time and delivery count."""

    id: str
    consumer: str
    idle_ms: int
    deliveries: int


class ConsumerGroupsMixin:
    """Consumer-group methods of :class:`~papyra.persistence.backends.redis.RedisStreamsPersistence`."""

    _config: RedisStreamsConfig
    _client: Any
    _redis: Any

    def _redis_errors(self, op: str) -> AbstractContextManager[None]:  # provided by the backend
        raise NotImplementedError

    # ------------------------------------------------------------------ groups

    def ensure_consumer_group(self, kind: str, group: str, start_id: str = "0") -> bool:
        """Create ``group`` on the kind's stream (creating the stream too). Idempotent.

        Returns True when the group was created, False when it already existed. Only Redis's
        ``BUSYGROUP`` reply counts as "exists"; any other error is raised. One round trip.
        """
        key = self._config.stream_key(kind)
        with self._redis_errors("ensure_consumer_group"):
            try:
                self._client.xgroup_create(key, group, id=start_id, mkstream=True)
            except self._redis.ResponseError as exc:
                if str(exc).startswith("BUSYGROUP"):
                    return False
                raise
        return True

    def consume(
        self,
        kind: str,
        group: str,
        consumer: str,
        *,
        count: int = 100,
        block_ms: int | None = 1000,
        read_id: str = ">",
        ensure_group: bool = True,
    ) -> ConsumeResult:
        """Read up to ``count`` entries for ``consumer`` (``XREADGROUP``). Nothing is acked.

        ``read_id=">"`` reads new entries, waiting up to ``block_ms`` ms when there are none
        (``None`` or ``0``: return at once — never "block forever"); ``read_id="0"`` re-reads
        this consumer's own pending entries (a redelivery: counts towards ``max_deliveries``).
        With ``ensure_group`` a missing group is created from the start of the stream. Sees what
        has reached Redis: call ``flush()`` first to include this process's buffered records.

        Cost: one ``XREADGROUP`` per blocking slice (each shorter than ``socket_timeout``, up to
        ``block_ms`` in all), one pipelined round trip for the delivery counts of what was read,
        one ``MULTI``/``EXEC`` when poison or malformed entries are moved. O(count).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        key = self._config.stream_key(kind)
        new_only = read_id == ">"
        deadline = time.monotonic() + (block_ms or 0) / 1000.0
        # Keep each blocking call shorter than the socket timeout so it never looks like an outage.
        slice_ms = max(1, int(self._config.socket_timeout * 1000) - 250)
        while True:
            block: int | None = None
            if new_only and block_ms:
                remaining = int((deadline - time.monotonic()) * 1000)
                block = max(1, min(remaining, slice_ms))
            with self._redis_errors("consume"):
                try:
                    reply = self._client.xreadgroup(group, consumer, {key: read_id}, count=count, block=block)
                except self._redis.ResponseError as exc:
                    if not (ensure_group and str(exc).startswith("NOGROUP")):
                        raise
                    self.ensure_consumer_group(kind, group)
                    continue
            raw = reply[0][1] if reply else []
            if raw or block is None or time.monotonic() >= deadline:
                break
        counts = None if new_only else self._delivery_counts(key, group, [e[0] for e in raw])
        return self._settle(kind, key, group, consumer, raw, counts)

    def ack(self, kind: str, group: str, ids: Sequence[str]) -> int:
        """Acknowledge ``ids`` (``XACK``); returns how many were pending. Empty ``ids``: 0, no I/O.
        Cost: one round trip, O(len(ids)) on the server."""
        if isinstance(ids, (str, bytes)):
            ids = [ids]
        if not ids:
            return 0
        with self._redis_errors("ack"):
            return int(self._client.xack(self._config.stream_key(kind), group, *ids))

    def pending(self, kind: str, group: str) -> PendingSummary:
        """The group's pending summary, with the pending count per consumer (``XPENDING``).
        Cost: one round trip."""
        with self._redis_errors("pending"):
            raw = self._client.xpending(self._config.stream_key(kind), group)
        consumers = {_s(c["name"]): int(c["pending"]) for c in raw.get("consumers") or ()}
        return PendingSummary(
            count=int(raw.get("pending") or 0),
            min_id=_s(raw["min"]) if raw.get("min") is not None else None,
            max_id=_s(raw["max"]) if raw.get("max") is not None else None,
            consumers=consumers,
        )

    def pending_entries(
        self,
        kind: str,
        group: str,
        *,
        consumer: str | None = None,
        start: str = "-",
        end: str = "+",
        count: int = 100,
        min_idle_ms: int | None = None,
    ) -> tuple[PendingEntry, ...]:
        """Pending entries in id order, optionally for one consumer / at least this idle.
        Cost: one ``XPENDING … COUNT`` round trip, O(count)."""
        with self._redis_errors("pending_entries"):
            rows = self._client.xpending_range(
                self._config.stream_key(kind), group, min=start, max=end, count=count,
                consumername=consumer, idle=min_idle_ms,
            )
        return tuple(
            PendingEntry(
                id=_s(r["message_id"]),
                consumer=_s(r["consumer"]),
                idle_ms=int(r["time_since_delivered"]),
                deliveries=int(r["times_delivered"]),
            )
            for r in rows
        )

    def claim(
        self, kind: str, group: str, consumer: str, min_idle_ms: int, ids: Sequence[str]
    ) -> ConsumeResult:
        """Take over ``ids`` idle for at least ``min_idle_ms`` (``XCLAIM``); a redelivery.
        Cost: as :meth:`consume` without the blocking (one ``XCLAIM`` round trip, delivery counts,
        moves)."""
        if isinstance(ids, (str, bytes)):
            ids = [ids]
        if not ids:
            return ConsumeResult()
        key = self._config.stream_key(kind)
        with self._redis_errors("claim"):
            raw = self._client.xclaim(key, group, consumer, min_idle_ms, list(ids))
        raw = [e for e in raw if e is not None]
        counts = self._delivery_counts(key, group, [e[0] for e in raw])
        return self._settle(kind, key, group, consumer, raw, counts)

    def autoclaim(
        self,
        kind: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        start: str = "0-0",
        count: int = 100,
    ) -> ConsumeResult:
        """Take over pending entries idle for ``min_idle_ms`` from ``start`` on (``XAUTOCLAIM``).

        ``result.next_id`` is the cursor for the next call (``"0-0"`` after a full pass);
        ``result.deleted_ids`` are pending ids whose entries no longer exist (Redis drops them
        from the PEL). Cost: as :meth:`claim` (one ``XAUTOCLAIM`` round trip, O(count)).
        """
        key = self._config.stream_key(kind)
        with self._redis_errors("autoclaim"):
            reply = self._client.xautoclaim(key, group, consumer, min_idle_ms, start_id=start, count=count)
        next_id = _s(reply[0])
        raw = [e for e in reply[1] if e is not None]
        deleted = tuple(_s(i) for i in reply[2]) if len(reply) > 2 else ()
        counts = self._delivery_counts(key, group, [e[0] for e in raw])
        result = self._settle(kind, key, group, consumer, raw, counts)
        return ConsumeResult(
            entries=result.entries,
            quarantined=result.quarantined,
            dead_lettered=result.dead_lettered,
            deleted_ids=result.deleted_ids + deleted,
            next_id=next_id,
        )

    # ------------------------------------------------------------------ internals

    def _delivery_counts(self, key: str, group: str, ids: list[Any]) -> dict[str, int]:
        if not ids:
            return {}
        with self._redis_errors("pending"):
            pipe = self._client.pipeline(transaction=False)
            for entry_id in ids:
                pipe.xpending_range(key, group, min=entry_id, max=entry_id, count=1)
            replies = pipe.execute()
        return {
            _s(rows[0]["message_id"]): int(rows[0]["times_delivered"]) for rows in replies if rows
        }

    def _settle(
        self,
        kind: str,
        key: str,
        group: str,
        consumer: str,
        raw: list[Any],
        counts: dict[str, int] | None,
    ) -> ConsumeResult:
        """Decode delivered entries; dead-letter poison ones, quarantine malformed ones."""
        expected = resolve_kind(kind)
        good: list[RedisStreamEntry] = []
        quarantined: list[MovedEntry] = []
        dead: list[MovedEntry] = []
        deleted: list[str] = []
        moves: list[tuple[str, dict[str, Any]]] = []
        now = repr(time.time())
        for entry_id_raw, fields in raw:
            entry_id = _s(entry_id_raw)
            deliveries = 1 if counts is None else counts.get(entry_id, 1)
            if not fields:  # deleted from the stream while pending
                deleted.append(entry_id)
                continue
            data = fields.get(b"data")
            try:
                record = decode_entry(expected, data)
            except LineError as exc:
                target = self._config.quarantine_key(key)
                quarantined.append(MovedEntry(entry_id, exc.reason, target, deliveries))
                moves.append((target, {
                    "source": key, "id": entry_id, "data": data if data is not None else b"",
                    "reason": exc.reason, "group": group, "consumer": consumer, "timestamp": now,
                }))
                continue
            if deliveries > self._config.max_deliveries:
                target = self._config.dead_letter_key(kind)
                reason = f"delivered {deliveries} times (max_deliveries={self._config.max_deliveries})"
                dead.append(MovedEntry(entry_id, reason, target, deliveries))
                moves.append((target, {
                    "source": key, "id": entry_id, "data": data, "reason": reason, "group": group,
                    "consumer": consumer, "deliveries": str(deliveries), "timestamp": now,
                }))
                continue
            good.append(RedisStreamEntry(entry_id, record, deliveries, key))
        to_ack = [m[1]["id"] for m in moves] + deleted
        if to_ack:
            with self._redis_errors("consume"):
                ordered_steps(
                    self._client,
                    self._config.cluster,
                    lambda pipe: [pipe.xadd(target, entry) for target, entry in moves],
                    lambda pipe: pipe.xack(key, group, *to_ack),
                )
        return ConsumeResult(
            entries=tuple(good),
            quarantined=tuple(quarantined),
            dead_lettered=tuple(dead),
            deleted_ids=tuple(deleted),
        )
