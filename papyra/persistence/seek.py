"""Seek by time in an NDJSON store file: binary search over byte offsets.

Records are appended in time order, so the timestamps of a file's lines are sorted up to
*local disorder* (writers of one store with slightly different clocks, a batch whose records
were stamped before an older one was flushed). :func:`seek_since` finds the first line whose
record is at or after ``since`` by bisecting the byte range — each probe reads one line at a
byte offset — then steps back :data:`DISORDER_WINDOW` bytes to the previous line boundary, so a
record appended out of order within that many bytes is still found. Callers filter exactly
(``timestamp >= since``) from the returned offset; the offset is never *after* a record the
file holds in order.

Unreadable lines met by a probe are stepped over (the next line is probed instead). Cost:
O(log(size / line) ) probes of one line each plus a bounded read of the window; memory is
bounded by the longest line probed (at most :data:`~papyra.persistence.grammar.MAX_LINE_BYTES`).
"""

from __future__ import annotations

import os
from typing import BinaryIO

from papyra.persistence.grammar import MAX_LINE_BYTES, LineError, parse_line

__all__ = ["DISORDER_WINDOW", "line_start_at_or_after", "seek_since"]

#: Bytes before the bisected position that are read too (and filtered exactly), so that records
#: appended that far out of time order are not missed. About 1000 typical records.
DISORDER_WINDOW = 256 * 1024
_PROBE = 4 * 1024  # first read of a probe; doubled while no newline is found
_MIN_RANGE = 4 * 1024  # below this a sequential read is cheaper than more probes


def line_start_at_or_after(f: BinaryIO, offset: int, end: int) -> int:
    """The offset of the first line that starts at or after ``offset`` (``end`` if none before
    it). Offset 0 is a line start; otherwise a line starts right after a ``\\n``. Cost: reads
    forward until the newline (at most one line)."""
    if offset <= 0:
        return 0
    pos = offset - 1
    want = _PROBE
    while pos < end:
        f.seek(pos)
        block = f.read(min(want, end - pos))
        if not block:
            break
        nl = block.find(b"\n")
        if nl >= 0:
            return pos + nl + 1
        pos += len(block)
        want *= 2
    return end


def _timestamp_at(f: BinaryIO, start: int, end: int) -> tuple[float | None, int]:
    """``(timestamp of the first readable record at or after line start start, offset after
    its line)``; ``(None, end)`` when no readable record starts before ``end``."""
    pos = start
    while pos < end:
        f.seek(pos)
        pieces: list[bytes] = []
        length = 0
        want = _PROBE
        while True:
            block = f.read(min(want, end - pos - length))
            want *= 2
            if not block:
                return None, end
            nl = block.find(b"\n")
            if nl >= 0:
                pieces.append(block[:nl])
                length += nl
                break
            pieces.append(block)
            length += len(block)
            if length > MAX_LINE_BYTES:  # unreadable by definition: skip to its end
                pieces = []
                nl_at = line_start_at_or_after(f, pos + length, end)
                length = nl_at - pos - 1
                break
        following = pos + length + 1
        try:
            record = parse_line(b"".join(pieces)) if pieces else None
        except LineError:
            record = None
        if record is not None:
            return record.timestamp, following
        pos = following
    return None, end


def seek_since(f: BinaryIO, since: float, *, size: int | None = None, window: int = DISORDER_WINDOW) -> int:
    """A line-start offset of ``f`` before which no record at or after ``since`` was appended
    in order (nor within ``window`` bytes out of order): read forward from it and keep records
    with ``timestamp >= since``. 0 when the first record is already at or after ``since``;
    ``size`` rounded down to a line start when every record is older.

    Cost: O(log size) one-line probes, no full read; see the module doc for disorder.
    """
    if size is None:
        size = os.fstat(f.fileno()).st_size
    lo, hi = 0, size  # lines starting before lo are older than since; the answer is <= hi
    while hi - lo > _MIN_RANGE:
        mid = line_start_at_or_after(f, (lo + hi) // 2, hi)
        if mid >= hi:
            hi = (lo + hi) // 2
            continue
        ts, following = _timestamp_at(f, mid, hi)
        if ts is None:  # nothing readable in [mid, hi): the answer is at or before mid
            hi = mid
        elif ts < since:
            lo = following
        else:
            hi = mid
    return line_start_at_or_after(f, max(0, lo - window), size) if lo > 0 else 0
