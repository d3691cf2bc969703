"""``tail -F`` over a file store (one NDJSON file or a rotating set), for ``--follow``.

The tail keeps the active file open and remembers the offset after the last complete line it
read. Each :meth:`FileTail.poll` costs one ``lstat`` plus a read of the **new bytes only**:

* same inode, bigger: the lines appended since the last poll (a torn last line waits);
* a new inode at the path, the old one now a rotated member (``PATH.k``): the rest of the old
  file (still open), the members rotated after it (``PATH.k-1`` … ``PATH.1``) whole, then the
  new active file — every record once, in order, nothing re-read;
* a new inode and the old one gone from the set (compaction or recovery rewrote the store, or
  rotation dropped it): the rest of the old file, then a *resync* — the events of the new store
  newer than the newest printed minus :data:`~papyra.cli.follow.SKEW` (found by
  :func:`~papyra.persistence.seek.seek_since`), minus those already printed
  (:class:`~papyra.cli.follow.EventTail`); when none of the recently printed events is still
  there but newer ones are, :meth:`FileTail.poll` reports the gap.

:meth:`FileTail.initial` starts with the newest N events: it reads backwards from the end of the
open file (then older members), O(N), never the whole store. Only events are tracked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from papyra.cli.follow import SKEW, EventTail
from papyra.persistence.filestore import last_newline_end, open_read
from papyra.persistence.grammar import LineError, parse_line
from papyra.persistence.models import PersistedEvent
from papyra.persistence.reading import iter_records_reversed
from papyra.persistence.seek import seek_since

__all__ = ["FileTail"]

_READ = 16 * 1024 * 1024  # most bytes read per call when catching up


def _ino(path: Path) -> int | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_ino if stat.S_ISREG(st.st_mode) else None


def _events(data: bytes) -> Iterator[PersistedEvent]:
    for line in data.split(b"\n"):
        try:
            record = parse_line(line)
        except LineError:
            continue  # unreadable: scan reports it
        if isinstance(record, PersistedEvent):
            yield record


class FileTail:
    """Follows the store at ``path``; ``max_files`` > 1 for a rotating set (its members are
    ``PATH.1`` … ``PATH.{max_files-1}``). Not thread-safe; close it when done."""

    def __init__(self, path: Path, *, max_files: int = 1) -> None:
        self.path = path
        self.max_files = max_files
        self.tail = EventTail()
        self._f: BinaryIO | None = None
        self._ino: int | None = None
        self._offset = 0

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def _member(self, k: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{k}")

    def _open_active(self) -> bool:
        f = open_read(self.path)
        if f is None:
            return False
        self.close()
        self._f, self._ino, self._offset = f, os.fstat(f.fileno()).st_ino, 0
        return True

    # ------------------------------------------------------------------ start

    def initial(self, accept: Callable[[Any], bool], limit: int, since: float | None) -> list[PersistedEvent]:
        """The newest ``limit`` accepted events at or after ``since``, oldest first; from here
        on, :meth:`poll` returns what is appended after them. O(limit) reads (plus the
        :data:`~papyra.cli.follow.SKEW` window, remembered for a later resync)."""
        if not self._open_active():
            return []
        assert self._f is not None
        self._offset = last_newline_end(self._f.fileno(), os.fstat(self._f.fileno()).st_size)
        picked: list[PersistedEvent] = []
        window: list[PersistedEvent] = []
        top: float | None = None
        for record in self._newest_first(since):
            ts = record.timestamp
            top = ts if top is None else top
            if ts >= top - SKEW:
                window.append(record)
            elif len(picked) >= limit:
                break
            if len(picked) < limit and (since is None or ts >= since) and accept(record):
                picked.append(record)
        window.reverse()
        self.tail.mark(window)
        picked.reverse()
        return picked

    def _newest_first(self, since: float | None) -> Iterator[PersistedEvent]:
        """Events of the open active file (up to the offset) then of the older members, newest
        first; with ``since``, each file from its seek offset and no member older than the
        first one that starts before ``since`` (callers filter exactly)."""
        assert self._f is not None
        files: list[tuple[BinaryIO, int]] = [(self._f, self._offset)]
        opened: list[BinaryIO] = []
        try:
            for k in range(1, self.max_files):
                f = open_read(self._member(k))
                if f is not None:
                    opened.append(f)
                    files.append((f, os.fstat(f.fileno()).st_size))
            for f, end in files:
                start = 0 if since is None else seek_since(f, since, size=end)
                for record, _n in iter_records_reversed(f, end=end, start=start):
                    if isinstance(record, PersistedEvent):
                        yield record
                if start > 0:
                    return
        finally:
            for f in opened:
                f.close()

    # ------------------------------------------------------------------ polling

    def _read_new(self) -> list[PersistedEvent]:
        """Complete lines appended to the open file since the offset."""
        assert self._f is not None
        out: list[PersistedEvent] = []
        while True:
            self._f.seek(self._offset)
            data = self._f.read(_READ)
            cut = data.rfind(b"\n")
            if cut < 0:
                return out
            out.extend(_events(data[:cut]))
            self._offset += cut + 1
            if len(data) < _READ:
                return out

    def _read_whole(self, path: Path) -> list[PersistedEvent]:
        f = open_read(path)
        if f is None:
            return []
        with f:
            data = f.read()
        return list(_events(data[: data.rfind(b"\n") + 1]))

    def poll(self) -> tuple[list[PersistedEvent], tuple[float, float] | None]:
        """``(new events oldest first, gap or None)``; marks them as printed. Cost: one
        ``lstat`` and the new bytes (a resync after a rewrite reads the SKEW window)."""
        if self._f is None:  # the store appears: everything in it is new (rotated members first)
            if not self._open_active():
                return [], None
            fresh = [
                r for k in range(self.max_files - 1, 0, -1)
                if _ino(self._member(k)) not in (None, self._ino)  # the active one rotated meanwhile
                for r in self._read_whole(self._member(k))
            ]
            fresh.extend(self._read_new())
            self.tail.mark(fresh)
            return fresh, None
        current = _ino(self.path)
        size = os.fstat(self._f.fileno()).st_size
        if current == self._ino and size >= self._offset:
            fresh = self._read_new()
            self.tail.mark(fresh)
            return fresh, None
        drained = self._read_new()  # the old file's last appends (it is still open)
        slot = next((k for k in range(1, self.max_files) if _ino(self._member(k)) == self._ino), None)
        if slot is not None and size >= self._offset:  # rotation: members after ours, then the new one
            for k in range(slot - 1, 0, -1):
                drained.extend(self._read_whole(self._member(k)))
            self._open_active()
            drained.extend(self._read_new())
            self.tail.mark(drained)
            return drained, None
        fresh = self.tail.new(drained)
        more, gap = self._resync()
        return fresh + more, gap

    def _resync(self) -> tuple[list[PersistedEvent], tuple[float, float] | None]:
        """After a rewrite: the events of the new store not printed yet, and the gap if any."""
        if not self._open_active():
            self._ino = None
            return [], None
        assert self._f is not None
        self._offset = last_newline_end(self._f.fileno(), os.fstat(self._f.fileno()).st_size)
        since = self.tail.since
        window = [r for r in self._newest_first(since) if since is None or r.timestamp >= since]
        window.reverse()
        gap = self.tail.gap(window)
        return self.tail.new(window), gap
