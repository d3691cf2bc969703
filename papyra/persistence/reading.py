"""Retention-aware reads of NDJSON store files, newest first (shared by the file backends).

A file store is one log for all kinds, so retention spans every kind: :func:`select_newest`
walks records **newest first** (from :func:`iter_records_reversed`, which reads a file backwards
from its end), offers every valid record to one
:class:`~papyra.persistence.retention.RetentionWindow`, and collects only the requested kind
within ``since``/``until``. With ``limit`` it stops as soon as enough records are found, so
``list_*(limit=N)`` touches only the tail of the store. A rotating set chains the per-file
iterators newest file first.

Unreadable lines are skipped by reads (``scan()`` reports them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from papyra.persistence.base import R
from papyra.persistence.codec import LineError, decode_record, iter_lines, iter_lines_reversed
from papyra.persistence.models import PersistedRecord
from papyra.persistence.retention import RetentionPolicy, RetentionVerdict

__all__ = ["iter_records", "iter_records_reversed", "select_newest"]


def iter_records_reversed(f: BinaryIO, *, end: int | None = None) -> Iterator[tuple[PersistedRecord, int]]:
    """Yield ``(record, line_bytes)`` for the valid complete lines of ``f``, newest first.

    ``line_bytes`` includes the newline. Reads backwards only as far as the caller consumes.
    """
    for _offset, data in iter_lines_reversed(f, end=end):
        try:
            record = decode_record(data)
        except LineError:
            continue
        yield record, len(data) + 1


def iter_records(f: BinaryIO) -> Iterator[tuple[PersistedRecord, int]]:
    """Yield ``(record, line_bytes)`` for the valid complete lines of ``f``, oldest first."""
    for raw in iter_lines(f):
        if not raw.complete or raw.oversized:
            continue
        try:
            record = decode_record(raw.data)
        except LineError:
            continue
        yield record, len(raw.data) + 1


def select_newest(
    newest_first: Iterable[tuple[PersistedRecord, int]],
    kind: type[R],
    *,
    policy: RetentionPolicy,
    limit: int | None,
    since: float | None,
    until: float | None,
    now: float | None = None,
) -> list[R]:
    """Retained records of ``kind`` within ``since``/``until``, the newest ``limit``, oldest first.

    Cost: stops at the retention boundary or once ``limit`` records are found; O(result) memory.
    """
    window = None if policy.is_unbounded else policy.window(now)
    out: list[R] = []
    for record, nbytes in newest_first:
        if window is not None:
            verdict = window.offer(record.timestamp, nbytes)
            if verdict is RetentionVerdict.STOP:
                break
            if verdict is RetentionVerdict.SKIP:
                continue
        if type(record) is not kind:
            continue
        ts = record.timestamp
        if (since is not None and ts < since) or (until is not None and ts > until):
            continue
        out.append(record)
        if limit is not None and len(out) >= limit:
            break
    out.reverse()
    return out
