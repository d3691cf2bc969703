"""Retention-aware reads of NDJSON store files, newest first (shared by the file backends).

A file store is one log for all kinds, so retention spans every kind: :func:`select_newest`
walks records **newest first** (from :func:`iter_records_reversed`, which reads a file backwards
from its end), offers every valid record to one
:class:`~papyra.persistence.retention.RetentionWindow`, and collects only the requested kind
within ``since``/``until``. With ``limit`` it stops as soon as enough records are found, so
``list_*(limit=N)`` touches only the tail of the store. A rotating set chains the per-file
iterators newest file first. :func:`select_stream` is the lazy form (constant memory, for
streaming consumers such as the CLI); :func:`select_newest` collects from it.

With ``since``, file reads start at the offset :func:`papyra.persistence.seek.seek_since`
finds by binary search (:func:`iter_records_reversed` takes it as ``start``), so a recent
window of a large store costs O(log size + output).

Unreadable lines are skipped by reads but counted (:class:`SkipCount`; the backends add the
count to the ``unreadable_lines_skipped`` metric); ``scan()`` reports them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from papyra.persistence.base import R
from papyra.persistence.grammar import LineError, iter_lines, iter_lines_reversed, parse_line
from papyra.persistence.models import PersistedRecord
from papyra.persistence.retention import RetentionPolicy, RetentionVerdict

__all__ = ["SkipCount", "iter_records", "iter_records_reversed", "select_newest", "select_stream"]


class SkipCount:
    """How many unreadable complete lines a read skipped (blank lines and a torn final
    fragment are not unreadable: the grammar allows them)."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines = 0


def iter_records_reversed(
    f: BinaryIO, *, end: int | None = None, start: int = 0, skipped: SkipCount | None = None
) -> Iterator[tuple[PersistedRecord, int]]:
    """Yield ``(record, line_bytes)`` for the records of ``f`` between the line start ``start``
    and ``end``, newest first, counting the unreadable lines in ``skipped``.

    ``line_bytes`` includes the newline. Reads backwards only as far as the caller consumes.
    """
    for _offset, data, length in iter_lines_reversed(f, end=end, start=start):
        try:
            if data is None:
                raise LineError("line too long")
            record = parse_line(data)
        except LineError:
            if skipped is not None:
                skipped.lines += 1
            continue
        if record is not None:  # None: a blank line
            yield record, length + 1


def iter_records(f: BinaryIO, *, skipped: SkipCount | None = None) -> Iterator[tuple[PersistedRecord, int]]:
    """Yield ``(record, line_bytes)`` for the records of ``f``, oldest first (one forward pass,
    bounded memory), counting unreadable complete lines in ``skipped``; a torn final fragment
    and blank lines are not records and not unreadable."""
    for _number, _offset, data, complete, oversized in iter_lines(f):
        if not complete:
            continue
        try:
            if oversized:
                raise LineError("line too long")
            record = parse_line(data)
        except LineError:
            if skipped is not None:
                skipped.lines += 1
            continue
        if record is not None:
            yield record, len(data) + 1


def select_stream(
    newest_first: Iterable[tuple[PersistedRecord, int]],
    kinds: tuple[type[PersistedRecord], ...] | None,
    *,
    policy: RetentionPolicy,
    since: float | None,
    until: float | None,
    now: float | None = None,
) -> Iterator[PersistedRecord]:
    """Lazily yield the retained records of ``kinds`` (None: every kind) within
    ``since``/``until``, newest first. Every record, of any kind, is offered to the one
    retention window (a file store is one log). Stops at the retention boundary. O(1) memory."""
    window = None if policy.is_unbounded else policy.window(now)
    for record, nbytes in newest_first:
        if window is not None:
            verdict = window.offer(record.timestamp, nbytes)
            if verdict is RetentionVerdict.STOP:
                return
            if verdict is RetentionVerdict.SKIP:
                continue
        if kinds is not None and type(record) not in kinds:
            continue
        ts = record.timestamp
        if (since is not None and ts < since) or (until is not None and ts > until):
            continue
        yield record


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
    stream = select_stream(newest_first, (kind,), policy=policy, since=since, until=until, now=now)
    out: list[R] = list(itertools.islice(stream, limit))  # type: ignore[arg-type]
    out.reverse()
    return out
