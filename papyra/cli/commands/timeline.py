"""``papyra inspect timeline``: records per time bucket and event type, as a bar chart.

Counts every event (one series per event type, ``--event-type`` keeps only those) and every
dead letter (series ``dead_letters``) per ``--bucket`` interval (default ``1m``, aligned to the
epoch, so buckets are the same whatever the window), within ``--since``/``--until``. One
streaming pass over the store (newest first, ``--since`` by binary search on file stores):
memory grows with the number of buckets and series, never with the number of records. Empty
buckets between the first and the last are shown (a quiet minute is information too); more
than :data:`MAX_BUCKETS` is a usage error asking for a larger ``--bucket``.

Records with a relative timestamp (before 2001-09-09, the earlier release's monotonic clock:
seconds since some boot, not a date) belong to no time bucket: they are counted apart — JSON
``relative_timestamp_records``, a line after the text chart, a note on stderr with ndjson — so a
store mixing them with epoch timestamps charts its epoch records.

Text: one aligned row per bucket — its start (local time with zone, or ``--utc``), the count of
each series, the total and a bar scaled to the busiest bucket (``#`` when the terminal cannot
show ``█``). JSON: ``bucket_seconds``, ``series``, ``buckets`` = ``[{start, total, counts}]``
``unreadable_lines_skipped`` and ``relative_timestamp_records``; ndjson: one line per bucket.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from papyra.cli.commands.inspect import _report_skipped, _skipped_so_far, _window, newest_first
from papyra.cli.context import Context
from papyra.cli.errors import EXIT_OK, UsageError
from papyra.cli.output import format_ts
from papyra.persistence.retention import EPOCH_FLOOR

__all__ = ["MAX_BUCKETS", "timeline"]

MAX_BUCKETS = 10_000
_BAR_WIDTH = 40
_DEAD_LETTERS = "dead_letters"


def _series_of(record: Any, types: set[str]) -> str | None:
    event_type = getattr(record, "event_type", None)
    if event_type is None:
        return _DEAD_LETTERS
    return event_type if not types or event_type in types else None


def timeline(ctx: Context) -> int:
    since, until = _window(ctx)
    bucket = float(ctx.arg("bucket", 60.0))
    types = set(ctx.arg("event_type", []))
    backend = ctx.store().backend
    before = _skipped_so_far(backend)
    counts: dict[int, Counter[str]] = {}
    relative = 0  # records whose timestamps are not dates (no bucket)
    for record in newest_first(ctx, ["events", "dead_letters"], since, until):
        name = _series_of(record, types)
        if name is None:
            continue
        if record.timestamp < EPOCH_FLOOR:
            relative += 1
            continue
        index = math.floor(record.timestamp / bucket)
        counts.setdefault(index, Counter())[name] += 1
        if len(counts) > MAX_BUCKETS:
            raise UsageError(
                f"more than {MAX_BUCKETS} buckets of {bucket:g} s: use a larger --bucket or a narrower "
                "--since/--until"
            )
    skipped = _skipped_so_far(backend) - before
    _report_skipped(ctx, skipped)
    indexes = range(min(counts), max(counts) + 1) if counts else range(0)
    if len(indexes) > MAX_BUCKETS:
        raise UsageError(
            f"the records span more than {MAX_BUCKETS} buckets of {bucket:g} s: use a larger --bucket"
        )
    series = sorted({name for c in counts.values() for name in c} - {_DEAD_LETTERS})
    if any(_DEAD_LETTERS in c for c in counts.values()):
        series.append(_DEAD_LETTERS)
    rows = [(i * bucket, counts.get(i, Counter())) for i in indexes]
    out = ctx.out
    relative_text = (
        f"{relative} records with relative (pre-2001, monotonic-clock) timestamps are in no bucket"
    )
    if out.fmt == "ndjson":
        for start, c in rows:
            out.ndjson({"start": start, "total": sum(c.values()), "counts": {s: c[s] for s in series}})
        if relative:
            out.note(relative_text)
        return EXIT_OK
    if out.fmt == "json":
        buckets = [{"start": start, "total": sum(c.values()), "counts": {s: c[s] for s in series}}
                   for start, c in rows]
        out.json(ctx.envelope(EXIT_OK, bucket_seconds=bucket, series=series, buckets=buckets,
                              unreadable_lines_skipped=skipped, relative_timestamp_records=relative))
        return EXIT_OK
    store = ctx.store()
    out.heading(f"Timeline of {store.kind} store {store.describe()['location']} (buckets of {bucket:g} s)")
    if not rows:
        out.info("No events or dead letters in the window." if not relative else f"{relative_text}.")
        return EXIT_OK
    peak = max(sum(c.values()) for _, c in rows)
    bar = out.symbol("bar")
    table = [
        (format_ts(start), *(str(c[s]) for s in series), str(sum(c.values())),
         bar * math.ceil(_BAR_WIDTH * sum(c.values()) / peak) if peak else "")
        for start, c in rows
    ]
    out.table(["bucket", *series, "total", ""], table, right=tuple(range(1, len(series) + 2)))
    if relative:
        out.info(f"{relative_text}.")
    return EXIT_OK
