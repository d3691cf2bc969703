"""``papyra inspect events --follow``: print new events until interrupted (exit 0).

File stores (JSON file, rotating set) are followed like ``tail -F`` by
:class:`papyra.cli.filetail.FileTail`: the newest ``--limit`` events first, read backwards from
the end (O(limit)), then only the bytes appended since (O(new)), across rotation (the old file
is drained, then the members rotated after it) and rewrites (compaction, recovery: a resync on
the new inode, deduplicated, with the gap warning below).

Other backends (Redis, a settings object) use polling. Each poll asks the backend for events
since a watermark (the newest
timestamp seen minus :data:`SKEW` seconds, so records from writers with slightly older clocks
are not missed) and prints those not printed yet. "Printed yet" is a multiset of canonical
encodings of the events inside the watermark window, so rotation (new files), compaction and
recovery (rewritten files holding the same records) never print an event twice, and identical
events are still each printed once. Cost per poll: one ``list_events(since=…)`` call.

Starts with the newest ``--limit`` events (default 10), like ``tail -f``. SIGINT (Ctrl-C) and
SIGTERM end it with exit 0.

Gaps. Records a rotating set drops (or compaction/recovery removes) between two polls are gone
by design and cannot be printed. When a poll no longer finds *any* of the events printed last
(those inside the watermark window) yet finds newer ones, the store dropped records since the
previous poll and events written in between may have been lost with them: a warning on stderr
names the time span (:meth:`EventTail.gap`). Poll more often (``--interval``) or keep more
files (``--max-files`` in the application) to avoid it.
"""

from __future__ import annotations

import collections
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_OK, UsageError
from papyra.cli.output import format_ts

__all__ = ["SKEW", "EventTail", "follow_events"]

#: Seconds of clock skew between writers that following tolerates.
SKEW = 5.0
_INITIAL = 10
_MAX_CONSECUTIVE_ERRORS = 20


class EventTail:
    """Remembers what was printed and picks out new events from each poll."""

    def __init__(self) -> None:
        self._printed: collections.Counter[bytes] = collections.Counter()
        self._stamps: dict[bytes, float] = {}
        self.newest: float | None = None

    @property
    def since(self) -> float | None:
        return None if self.newest is None else self.newest - SKEW

    def seen(self, records: list[Any]) -> None:
        """Mark ``records`` as printed (used for the initial listing's window)."""
        self.new(records)

    def mark(self, records: list[Any]) -> None:
        """Mark ``records`` as printed, every one (they come from new bytes, read once: two
        identical records are two records)."""
        from papyra.persistence.grammar import encode_record_body

        for r in records:
            key = encode_record_body(r)
            self._printed[key] += 1
            self._stamps[key] = r.timestamp
            if self.newest is None or r.timestamp > self.newest:
                self.newest = r.timestamp
        self._prune()

    def new(self, records: list[Any]) -> list[Any]:
        """The records of this poll not printed before (in poll order); marks them printed."""
        from papyra.persistence.grammar import encode_record_body

        counts: collections.Counter[bytes] = collections.Counter()
        fresh = []
        for r in records:
            key = encode_record_body(r)
            counts[key] += 1
            if counts[key] > self._printed[key]:
                self._printed[key] += 1
                self._stamps[key] = r.timestamp
                fresh.append(r)
                if self.newest is None or r.timestamp > self.newest:
                    self.newest = r.timestamp
        self._prune()
        return fresh

    def gap(self, polled: list[Any]) -> tuple[float, float] | None:
        """Call before :meth:`new` with the whole poll (unfiltered). ``(newest printed, oldest
        now visible)`` when none of the recently printed events is in ``polled`` but newer ones
        are — the store dropped records since the last poll — else None."""
        from papyra.persistence.grammar import encode_record_body

        if self.newest is None or not self._printed or not polled:
            return None
        keys = self._printed
        if any(encode_record_body(r) in keys for r in polled):
            return None
        oldest = min(r.timestamp for r in polled)
        return (self.newest, oldest) if oldest >= self.newest else None

    def _prune(self) -> None:
        cutoff = self.since
        if cutoff is None:
            return
        for key in [k for k, ts in self._stamps.items() if ts < cutoff]:
            del self._stamps[key]
            del self._printed[key]


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def follow_events(ctx: Context) -> int:
    from papyra.cli.commands.inspect import _matcher, _row, record_dict

    if ctx.arg("until") is not None or ctx.arg("reverse", False):
        raise UsageError("--follow cannot be combined with --until or --reverse")
    out = ctx.out
    if out.fmt == "json":
        raise UsageError("--follow prints a stream: use --format text or ndjson")
    backend = ctx.store().backend
    match = _matcher(ctx, "events")
    interval = float(ctx.arg("interval", 0.5))
    limit = int(ctx.arg("limit", _INITIAL))

    def line(r: Any) -> str:
        ts, event, actor, payload = _row("events", r)
        return f"{ts}  {event:<20}  {actor:<20}  {payload}".rstrip()

    def emit(records: list[Any], *, header: bool) -> None:
        if out.fmt == "ndjson":
            for r in records:
                out.ndjson(record_dict(r))
            return
        if header:
            out.write(out.style(f"{'time':<24}  {'event':<20}  {'actor':<20}  payload", "bold"))
        for r in records:
            out.write(line(r))

    def warn_gap(gap: tuple[float, float]) -> None:
        out.warn(
            f"events after {format_ts(gap[0])} up to {format_ts(gap[1])} may be missing: the "
            "store dropped records since the last poll (rotation, compaction) before they "
            "could be printed; poll more often (--interval) or keep more files"
        )

    def accept(r: Any) -> bool:
        return match is None or match(r)

    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (in-process tests)
        previous = None
    store = ctx.store()
    path = store.file_path() if store.kind in ("json", "rotating") else None
    since = ctx.arg("since")
    try:
        if path is not None:
            max_files = int(getattr(backend, "max_files", 1)) if store.kind == "rotating" else 1
            _follow_file(path, max_files, since, limit, interval, accept, emit, warn_gap, out.note)
        else:
            _follow_polling(backend, since, limit, interval, accept, emit, warn_gap, out.note)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


Emit = Callable[..., None]


def _follow_file(
    path: Path, max_files: int, since: float | None, limit: int, interval: float,
    accept: Callable[[Any], bool], emit: Emit, warn_gap: Callable[[tuple[float, float]], None],
    note: Callable[[str], None],
) -> NoReturn:
    """Follow a file store with :class:`~papyra.cli.filetail.FileTail` until interrupted."""
    from papyra.cli.filetail import FileTail

    file_tail = FileTail(path, max_files=max_files)
    try:
        first = file_tail.initial(accept, limit, since)
        emit(first, header=True)
        if not first:
            note("waiting for events (Ctrl-C to stop)")
        errors = 0
        while True:
            time.sleep(interval)
            try:
                fresh, gap = file_tail.poll()
            except OSError:  # a member renamed or deleted between stat and open
                errors += 1
                if errors >= _MAX_CONSECUTIVE_ERRORS:
                    raise
                continue
            errors = 0
            if gap is not None:
                warn_gap(gap)
            emit([r for r in fresh if accept(r)], header=False)
    finally:
        file_tail.close()


def _follow_polling(
    backend: Any, since: float | None, limit: int, interval: float,
    accept: Callable[[Any], bool], emit: Emit, warn_gap: Callable[[tuple[float, float]], None],
    note: Callable[[str], None],
) -> NoReturn:
    """Follow any backend by polling ``list_events(since=…)`` until interrupted."""
    tail = EventTail()
    records = [r for r in backend.list_events(since=since) if accept(r)]
    tail.seen(records)
    emit(records[-limit:], header=True)
    if not records:
        note("waiting for events (Ctrl-C to stop)")
    errors = 0
    while True:
        time.sleep(interval)
        try:
            polled = list(backend.list_events(since=tail.since if tail.since is not None else since))
        except Exception:  # a Redis blip
            errors += 1
            if errors >= _MAX_CONSECUTIVE_ERRORS:
                raise
            continue
        errors = 0
        gap = tail.gap(polled)
        if gap is not None:
            warn_gap(gap)
        emit(tail.new([r for r in polled if accept(r)]), header=False)
