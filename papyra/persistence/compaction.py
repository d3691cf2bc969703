"""Streaming compaction: make retention physical with memory independent of the store size.

:class:`StreamingCompactor` works on a list of open source files, oldest first (one file for
``JsonFilePersistence``; the members of a rotating set), in two passes:

1. **Backwards** (newest record first, across files): decode each line, offer every valid record
   to one :class:`~papyra.persistence.retention.RetentionWindow` (all kinds together), and
   remember the position of the oldest record kept — the *boundary* — plus where unreadable lines
   are (up to :data:`MAX_TRACKED_BAD` of them; beyond that pass 2 re-detects them).
2. **Forwards**: unreadable lines go to a :class:`~papyra.persistence.quarantine.LineQuarantine`
   (never dropped silently); from the boundary on, every valid, young-enough line is yielded
   **verbatim** by :meth:`StreamingCompactor.retained_lines` (lines are only decoded again when
   an age limit or too many bad lines require it).

A torn final fragment that is a complete record (only the newline missing) counts as a record
and is written with its newline; any other fragment is quarantined.

:func:`compact_file` drives it for a single file: temp file in the same directory (``O_EXCL``,
``file_mode``), fsync, rename over the store, fsync the directory. The caller holds the store lock
for the whole operation. A rotating backend feeds ``retained_lines()`` into its own packer.

:func:`plan_compaction` is the dry run: the same two passes over the same files, with the
retained lines counted instead of written and the unreadable ones counted instead of
quarantined, so its figures are exactly those of a real compaction of the same bytes.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from papyra.persistence.filestore import (
    create_exclusive,
    last_newline_end,
    open_read,
    replace_durably,
    temp_path_for,
)
from papyra.persistence.grammar import MAX_LINE_BYTES, LineError, iter_lines, iter_lines_reversed, parse_line
from papyra.persistence.models import PersistedRecord
from papyra.persistence.quarantine import LineQuarantine, planned_quarantine_path
from papyra.persistence.retention import RetentionPolicy, RetentionVerdict, is_too_old

__all__ = [
    "CompactionResult",
    "CountingQuarantine",
    "StreamingCompactor",
    "compact_file",
    "open_sources",
    "plan_compaction",
]

#: Positions of unreadable lines remembered by pass 1 (16 bytes each).
MAX_TRACKED_BAD = 100_000


@dataclass
class CompactionResult:
    before_records: int = 0
    after_records: int = 0
    before_bytes: int = 0
    after_bytes: int = 0
    quarantined_records: int = 0
    quarantine_path: Path | None = None
    relative_timestamp_records: int = 0

    def finish(
        self, compactor: StreamingCompactor, quarantine: LineQuarantine | CountingQuarantine, written: int
    ) -> None:
        """Fill in what a finished compaction kept, wrote and quarantined."""
        self.before_records = compactor.valid_records
        self.after_records = compactor.kept_records
        self.after_bytes = written
        self.quarantined_records = quarantine.count
        self.quarantine_path = quarantine.path
        self.relative_timestamp_records = compactor.relative_kept


class CountingQuarantine:
    """The dry run's quarantine: counts the lines a real run would keep aside, writes nothing.
    Like :class:`~papyra.persistence.quarantine.LineQuarantine`, its ``path`` is set by the first
    line: to ``planned`` (the file a real run would create, ``<stamp>`` standing for the part
    chosen at creation), None while nothing is quarantined."""

    path: Path | None = None

    def __init__(self, planned: Path | None = None) -> None:
        self.count = 0
        self._planned = planned

    def write(self, data: bytes) -> None:
        self.count += 1
        self.path = self._planned


class StreamingCompactor:
    """Two-pass retention over ``sources`` (``(file, size)`` pairs, oldest file first)."""

    def __init__(
        self,
        sources: Sequence[tuple[BinaryIO, int]],
        policy: RetentionPolicy,
        quarantine: LineQuarantine | CountingQuarantine,
        *,
        now: float | None = None,
    ) -> None:
        self.sources = list(sources)
        self.policy = policy
        self.quarantine = quarantine
        self.now = time.time() if now is None else now
        self.cutoff = None if policy.max_age_seconds is None else self.now - policy.max_age_seconds
        self.valid_records = 0
        self.kept_records = 0
        self.kept_bytes = 0
        self.relative_kept = 0  # kept under an age limit only because the timestamp is relative
        self._boundary: tuple[int, int] | None = None  # (source index, offset) of the oldest kept
        self._bad: list[list[tuple[int, int]]] = [[] for _ in self.sources]  # (offset, length)
        self._bad_total = 0
        self._bad_overflow = False
        self._skipped = False  # some record inside the kept range was too old
        self._planned = False

    # ------------------------------------------------------------------ pass 1

    def plan(self) -> None:
        """Pass 1: find the retention boundary and the unreadable lines (newest first)."""
        window = None if self.policy.is_unbounded else self.policy.window(self.now)
        stopped = False
        for idx in range(len(self.sources) - 1, -1, -1):
            f, size = self.sources[idx]
            end = last_newline_end(f.fileno(), size)
            lines: list[tuple[int, bytes | None, int]] = []
            if end < size:  # a torn final fragment: a record only if complete but for its newline
                fragment = None
                if size - end <= MAX_LINE_BYTES:
                    f.seek(end)
                    fragment = f.read(size - end)
                lines.append((end, fragment, size - end + 1))
            for offset, data, nbytes in _chain_reversed(lines, f, end):
                try:
                    record = _parse(data)
                except LineError:
                    self._note_bad(idx, offset, nbytes - 1 if offset + nbytes - 1 == size else nbytes)
                    continue
                if record is None:  # a blank line
                    continue
                self.valid_records += 1
                if stopped:
                    continue
                verdict = RetentionVerdict.KEEP if window is None else window.offer(record.timestamp, nbytes)
                if verdict is RetentionVerdict.KEEP:
                    self.kept_records += 1
                    self.kept_bytes += nbytes
                    self._boundary = (idx, offset)
                elif verdict is RetentionVerdict.SKIP:
                    self._skipped = True
                else:
                    stopped = True
        if window is not None:
            self.relative_kept = window.relative_kept
        for bad in self._bad:
            bad.reverse()
        self._planned = True

    def _note_bad(self, idx: int, offset: int, length: int) -> None:
        self._bad_total += 1
        if self._bad_total > MAX_TRACKED_BAD:
            self._bad_overflow = True
            return
        self._bad[idx].append((offset, length))

    # ------------------------------------------------------------------ pass 2

    def retained_lines(self) -> Iterator[bytes]:
        """Pass 2: yield each retained line (with its ``\\n``) oldest first; quarantine the rest."""
        if not self._planned:
            self.plan()
        boundary = self._boundary
        need_decode = self._bad_overflow
        for idx, (f, size) in enumerate(self.sources):
            if boundary is None or idx < boundary[0]:
                start_keep = size  # nothing kept in this file
            elif idx == boundary[0]:
                start_keep = boundary[1]
            else:
                start_keep = 0
            bad = self._bad[idx]
            # unreadable lines before the kept range: fetch them directly by offset
            if self._bad_overflow and start_keep > 0:
                for _n, _o, data, _complete, oversized in iter_lines(f, end=start_keep):
                    if oversized or not _is_valid(data):
                        self.quarantine.write(data)
            else:
                for offset, length in bad[: bisect.bisect_left(bad, (start_keep, -1))]:
                    f.seek(offset)
                    self.quarantine.write(f.read(length).rstrip(b"\n"))
            if start_keep >= size:
                continue
            bad_offsets = {off for off, _ in bad if off >= start_keep}
            check_age = self._skipped and self.cutoff is not None
            for _n, offset, data, _complete, oversized in iter_lines(f, start=start_keep, end=size):
                if need_decode or check_age:
                    try:
                        record = _parse(None if oversized else data)
                    except LineError:
                        self.quarantine.write(data)
                        continue
                    if record is not None and check_age and is_too_old(record.timestamp, self.cutoff):
                        continue
                elif offset in bad_offsets:
                    self.quarantine.write(data)
                    continue
                yield data + b"\n"

    @property
    def quarantined(self) -> int:
        return self.quarantine.count


def _chain_reversed(
    first: list[tuple[int, bytes | None, int]], f: BinaryIO, end: int
) -> Iterator[tuple[int, bytes | None, int]]:
    yield from first
    for offset, data, length in iter_lines_reversed(f, end=end):
        yield offset, data, length + 1


def _parse(data: bytes | None) -> PersistedRecord | None:
    """The record on a line, None for a blank line; LineError when unreadable (``data`` None:
    longer than the line limit)."""
    if data is None:
        raise LineError("line too long")
    return parse_line(data)


def _is_valid(data: bytes) -> bool:
    try:
        _parse(data)
    except LineError:
        return False
    return True


def open_sources(
    stack: contextlib.ExitStack, paths: Iterable[Path], result: CompactionResult
) -> list[tuple[BinaryIO, int]]:
    """Open each existing file of ``paths`` for reading (closed by ``stack``), oldest first, with
    its size at open time, added to ``result.before_bytes``: a compaction's fixed view of its
    sources. Files that vanished are skipped. Cost: one safe open and one fstat per file."""
    sources: list[tuple[BinaryIO, int]] = []
    for path in paths:
        f = open_read(path)
        if f is None:
            continue
        stack.enter_context(f)
        size = os.fstat(f.fileno()).st_size
        sources.append((f, size))
        result.before_bytes += size
    return sources


def compact_file(
    path: Path,
    policy: RetentionPolicy,
    *,
    file_mode: int = 0o600,
    quarantine_dir: Path | None = None,
    now: float | None = None,
) -> CompactionResult:
    """Compact one NDJSON file in place, atomically. The caller holds the store lock.

    A missing file stays missing (nothing to compact). Raises ``OSError`` on I/O failure, in
    which case the store is unchanged and no quarantine file is left behind.
    """
    result = CompactionResult()
    src = open_read(path)
    if src is None:
        return result
    quarantine = LineQuarantine(quarantine_dir or path.parent, path.name, file_mode=file_mode)
    tmp = temp_path_for(path, "compact")
    try:
        with src:
            size = os.fstat(src.fileno()).st_size
            result.before_bytes = size
            compactor = StreamingCompactor([(src, size)], policy, quarantine, now=now)
            compactor.plan()
            written = 0
            with create_exclusive(tmp, file_mode, like=(path,)) as out:
                for line in compactor.retained_lines():
                    out.write(line)
                    written += len(line)
                out.flush()
                os.fsync(out.fileno())
        quarantine.commit()
        replace_durably(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        with contextlib.suppress(OSError):
            quarantine.discard()
        raise
    result.finish(compactor, quarantine, written)
    return result


def plan_compaction(
    paths: Sequence[Path], policy: RetentionPolicy, *, now: float | None = None, store: Path | None = None
) -> CompactionResult:
    """What compacting the files ``paths`` (oldest first; missing ones are skipped) would do,
    computed by the same :class:`StreamingCompactor` passes as :func:`compact_file` and
    ``compact_set``, writing nothing. When lines would be quarantined, ``quarantine_path`` is
    the file a real run would create beside ``store`` (its ``<name>.quarantine.<stamp>``, see
    :func:`~papyra.persistence.quarantine.planned_quarantine_path`); None without ``store``.

    Needs no lock (it reads a snapshot: each file up to its size when opened). Cost: the two
    streaming passes of a real compaction without its writes; memory independent of the size.
    Raises ``OSError``.
    """
    result = CompactionResult()
    with contextlib.ExitStack() as stack:
        sources = open_sources(stack, paths, result)
        planned = None if store is None else planned_quarantine_path(store.parent, store.name)
        quarantine = CountingQuarantine(planned)
        compactor = StreamingCompactor(sources, policy, quarantine, now=now)
        written = sum(len(line) for line in compactor.retained_lines())
    result.finish(compactor, quarantine, written)
    return result
