"""Retention: which records a store keeps.

One algorithm for every backend. Records are offered **newest first** to a
:class:`RetentionWindow`, which answers for each one:

* ``KEEP`` — inside every limit;
* ``SKIP`` — older than ``max_age_seconds`` (dropped, keep looking);
* ``STOP`` — the count or byte budget is used up: this record and every older one are dropped.

So the kept set is the newest records that are young enough, up to ``max_records`` of them and
``max_total_bytes`` of encoded line bytes, all limits together (the strictest wins). Age is
measured against epoch time (``time.time()`` unless a clock is given). A timestamp before
:data:`EPOCH_FLOOR` (2001-09-09) is not epoch time — the earlier release stamped records with a
monotonic clock (seconds since boot, e.g. ``596.98``) — so age limits never drop such a record:
it is kept and counted (``RetentionWindow.relative_kept``). Streaming callers (file
compaction) use the window directly while reading backwards; :func:`apply_retention` does the
same for an in-memory, oldest-first sequence.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from papyra.conf.validation import check_int, check_number

__all__ = [
    "EPOCH_FLOOR",
    "RetentionPolicy",
    "RetentionVerdict",
    "RetentionWindow",
    "apply_retention",
    "is_too_old",
]

T = TypeVar("T")

#: Timestamps below this (1e9 s, 2001-09-09T01:46:40Z) are relative (monotonic-clock) seconds.
EPOCH_FLOOR = 1e9


def is_too_old(timestamp: float, cutoff: float | None) -> bool:
    """True when an age limit (records older than ``cutoff``) drops ``timestamp``; never for a
    relative timestamp (below :data:`EPOCH_FLOOR`). O(1)."""
    return cutoff is not None and EPOCH_FLOOR <= timestamp < cutoff


@dataclass(frozen=True)
class RetentionPolicy:
    """Limits on what a store keeps. ``None`` means no limit; set values must be positive.

    Applied to reads and made physical by ``compact()``.
    """

    max_records: int | None = None
    max_age_seconds: float | None = None
    max_total_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_records", "max_total_bytes"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        if self.max_age_seconds is not None:
            check_number("max_age_seconds", self.max_age_seconds, positive=True)

    @property
    def is_unbounded(self) -> bool:
        """True when no limit is set (retention keeps everything)."""
        return self.max_records is None and self.max_age_seconds is None and self.max_total_bytes is None

    def window(self, now: float | None = None) -> RetentionWindow:
        """A fresh newest-first window for this policy, aged against ``now`` (default: now)."""
        return RetentionWindow(self, time.time() if now is None else now)

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "max_records": self.max_records,
            "max_age_seconds": self.max_age_seconds,
            "max_total_bytes": self.max_total_bytes,
        }


class RetentionVerdict(enum.Enum):
    KEEP = "keep"
    SKIP = "skip"
    STOP = "stop"


class RetentionWindow:
    """Stateful newest-first retention decision. Not thread-safe; use one per pass. O(1) memory."""

    __slots__ = (
        "_bytes", "_count", "_cutoff", "_max_bytes", "_max_records", "kept", "kept_bytes", "relative_kept",
    )

    def __init__(self, policy: RetentionPolicy, now: float) -> None:
        self._cutoff = None if policy.max_age_seconds is None else now - policy.max_age_seconds
        self._max_records = policy.max_records
        self._max_bytes = policy.max_total_bytes
        self._count = 0
        self._bytes = 0
        self.kept = 0
        self.kept_bytes = 0
        #: Records kept under an age limit only because their timestamp is relative.
        self.relative_kept = 0

    @property
    def exhausted(self) -> bool:
        """True once the count budget is used up (no older record can be kept)."""
        return self._max_records is not None and self._count >= self._max_records

    def offer(self, timestamp: float, nbytes: int) -> RetentionVerdict:
        """Decide for the next-older record with this timestamp and encoded size."""
        if self.exhausted:
            return RetentionVerdict.STOP
        relative = False
        if self._cutoff is not None and timestamp < self._cutoff:
            if timestamp >= EPOCH_FLOOR:
                return RetentionVerdict.SKIP
            relative = True
        if self._max_bytes is not None and self._bytes + nbytes > self._max_bytes:
            return RetentionVerdict.STOP
        self.relative_kept += relative
        self._count += 1
        self._bytes += nbytes
        self.kept = self._count
        self.kept_bytes = self._bytes
        return RetentionVerdict.KEEP


def apply_retention(
    records: Sequence[T],
    policy: RetentionPolicy,
    *,
    timestamp_of: Callable[[T], float],
    size_of: Callable[[T], int],
    now: float | None = None,
    window: RetentionWindow | None = None,
) -> list[T]:
    """Return the retained records of an oldest-first sequence, oldest first. O(n).

    ``window`` (default: a fresh ``policy.window(now)``) can be passed to read its counts after.
    """
    if policy.is_unbounded:
        return list(records)
    if window is None:
        window = policy.window(now)
    kept: list[T] = []
    for item in reversed(records):
        verdict = window.offer(timestamp_of(item), size_of(item))
        if verdict is RetentionVerdict.STOP:
            break
        if verdict is RetentionVerdict.KEEP:
            kept.append(item)
    kept.reverse()
    return kept
