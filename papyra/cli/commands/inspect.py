"""``papyra inspect events | audits | dead-letters | summary``.

Filters (``--event-type``, ``--actor``, ``--target``, ``--message-type``) and the time window
apply **before** ``--limit`` (newest N of the matching records); ``--reverse`` prints newest
first. Without filters the limit is passed to the backend, which can then read only the tail.

Reads skip unreadable lines; when a command skipped any, one warning line on stderr gives the
count ("3 unreadable lines skipped; run `papyra persistence scan`") and JSON output carries it
as ``unreadable_lines_skipped``. The exit code does not change.

Memory. On file stores and Redis every command here streams (the backend's
``stream_records``, newest first — per kind on Redis — with ``--since`` found by binary search
on files and mapped to a stream id on Redis): ``--limit N`` keeps N records, ``--reverse`` none, and the
oldest-first order of a listing without ``--limit`` comes from a spool — the matching records
are written newest first to an anonymous temporary file that is then read backwards — so memory
stays constant whatever the store size (disk: the size of the output). ``summary`` and
``timeline`` aggregate in one pass. Text tables take their column widths from the first
:data:`~papyra.cli.output.TABLE_SAMPLE` rows. Backends without ``stream_records`` (a custom
one, the in-memory backend) are read through ``list_*``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_OK, UsageError
from papyra.cli.output import Output, format_ts
from papyra.cli.render import payload_text

__all__ = ["audits", "dead_letters", "events", "record_dict", "summary"]

_METHODS = {"events": "list_events", "audits": "list_audits", "dead_letters": "list_dead_letters"}
_EMPTY = {
    "events": "No events recorded.",
    "audits": "No audit reports recorded.",
    "dead_letters": "No dead letters recorded.",
}
_NO_MATCH = {
    "events": "No events match the filters.",
    "audits": "No audit reports match the filters.",
    "dead_letters": "No dead letters match the filters.",
}


def record_dict(record: Any) -> dict[str, Any]:
    """A record as its NDJSON line object (``kind`` first, every field)."""
    import msgspec

    from papyra.persistence.plain import to_plain

    data: dict[str, Any] = msgspec.to_builtins(record) if isinstance(record, msgspec.Struct) else dict(record)
    return to_plain(data)  # type: ignore[no-any-return]


def _skipped_so_far(backend: Any) -> int:
    """The backend's ``unreadable_lines_skipped`` counter (0 when it has none)."""
    metrics = getattr(backend, "metrics", None)
    if metrics is None:
        return 0
    return int(metrics.snapshot().get("unreadable_lines_skipped", 0))


def _report_skipped(ctx: Context, skipped: int) -> None:
    if skipped:
        s = "" if skipped == 1 else "s"
        ctx.out.warn(f"{skipped} unreadable line{s} skipped; run `papyra persistence scan`")


def _window(ctx: Context) -> tuple[float | None, float | None]:
    since, until = ctx.arg("since"), ctx.arg("until")
    if since is not None and until is not None and since > until:
        raise UsageError(f"--since ({format_ts(since)}) is after --until ({format_ts(until)})")
    return since, until


def _matcher(ctx: Context, kind: str) -> Callable[[Any], bool] | None:
    tests: list[Callable[[Any], bool]] = []
    if kind == "events":
        types = set(ctx.arg("event_type", []))
        actors = set(ctx.arg("actor", []))
        if types:
            tests.append(lambda r: r.event_type in types)
        if actors:
            tests.append(lambda r: r.actor_address in actors)
    elif kind == "dead_letters":
        targets = set(ctx.arg("target", []))
        mtypes = set(ctx.arg("message_type", []))
        if targets:
            tests.append(lambda r: r.target in targets)
        if mtypes:
            tests.append(lambda r: r.message_type in mtypes)
    if not tests:
        return None
    return lambda r: all(t(r) for t in tests)


_KINDS = {"events": "PersistedEvent", "audits": "PersistedAudit", "dead_letters": "PersistedDeadLetter"}


def record_class(kind: str) -> type[Any]:
    from papyra.persistence import models

    cls: type[Any] = getattr(models, _KINDS[kind])
    return cls


def newest_first(
    ctx: Context, kinds: Sequence[str], since: float | None, until: float | None
) -> Iterator[Any]:
    """Retained records of ``kinds`` within the window, newest first (per kind on Redis):
    streamed by backends with ``stream_records`` (file stores, Redis: constant memory); other
    backends' ``list_*`` results otherwise."""
    backend = ctx.store().backend
    stream = getattr(backend, "stream_records", None)
    if callable(stream):
        records: Iterator[Any] = iter(stream(tuple(record_class(k) for k in kinds), since=since, until=until))
        return records
    lists = [list(getattr(backend, _METHODS[k])(since=since, until=until)) for k in kinds]
    merged: list[Any] = sorted(itertools.chain.from_iterable(lists), key=lambda r: r.timestamp)
    merged.reverse()
    return iter(merged)


def _spooled_reversed(records: Iterable[Any]) -> Iterator[Any]:
    """``records`` in reverse order through an anonymous temporary file (constant memory)."""
    import tempfile

    from papyra.persistence.grammar import encode_record
    from papyra.persistence.reading import iter_records_reversed

    with tempfile.TemporaryFile(prefix="papyra-cli-") as spool:
        for r in records:
            spool.write(encode_record(r))
        spool.flush()
        for record, _nbytes in iter_records_reversed(spool):
            yield record


def select(ctx: Context, kind: str) -> Iterator[Any]:
    """The records to show, in output order: window, filters, then newest ``--limit``; oldest
    first unless ``--reverse``. Memory: O(limit), else O(1) on file stores (see module doc)."""
    since, until = _window(ctx)
    limit = ctx.arg("limit")
    match = _matcher(ctx, kind)
    matching = newest_first(ctx, [kind], since, until)
    if match is not None:
        matching = filter(match, matching)
    if limit is not None:
        picked = list(itertools.islice(matching, limit))
        return iter(picked) if ctx.arg("reverse", False) else reversed(picked)
    if ctx.arg("reverse", False):
        return matching
    return _spooled_reversed(matching)


# --------------------------------------------------------------------------- rendering


def _row(kind: str, r: Any) -> tuple[str, ...]:
    if kind == "events":
        return (format_ts(r.timestamp), r.event_type or "-", r.actor_address or "-", payload_text(r.payload))
    if kind == "audits":
        return (
            format_ts(r.timestamp),
            str(r.total_actors),
            str(r.alive_actors),
            str(r.stopping_actors),
            str(r.restarting_actors),
            str(r.registry_size),
            str(r.dead_letters_count),
        )
    return (format_ts(r.timestamp), r.target or "-", r.message_type or "-", payload_text(r.payload))


HEADERS: dict[str, tuple[Sequence[str], tuple[int, ...]]] = {
    "events": (("time", "event", "actor", "payload"), ()),
    "audits": (
        ("time", "total", "alive", "stopping", "restarting", "registry", "dead_letters"),
        (1, 2, 3, 4, 5, 6),
    ),
    "dead_letters": (("time", "target", "message_type", "payload"), ()),
}


def print_records(out: Output, kind: str, records: Iterable[Any]) -> None:
    """The records as an aligned table (streamed)."""
    headers, right = HEADERS[kind]
    out.table(headers, (_row(kind, r) for r in records), right=right)


def _listing(ctx: Context, kind: str) -> int:
    backend = ctx.store().backend
    before = _skipped_so_far(backend)
    records = select(ctx, kind)
    out = ctx.out
    if out.fmt == "ndjson":
        for r in records:
            out.ndjson(record_dict(r))
    elif out.fmt == "json":
        counted = _Counted(record_dict(r) for r in records)
        head = ctx.envelope(EXIT_OK, kind=kind)

        def tail() -> dict[str, Any]:
            return {"count": counted.count, "unreadable_lines_skipped": _skipped_so_far(backend) - before}

        out.json_stream(head, "records", counted, tail)
    else:
        first = next(records, None)
        if first is None:
            filtered = any(
                ctx.arg(n) for n in ("since", "until", "event_type", "actor", "target", "message_type")
            )
            out.info(_NO_MATCH[kind] if filtered else _EMPTY[kind])
        else:
            print_records(out, kind, itertools.chain([first], records))
    _report_skipped(ctx, _skipped_so_far(backend) - before)
    return EXIT_OK


class _Counted:
    """An iterator that counts what it yielded (for a count printed after a streamed list)."""

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = iter(items)
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        item = next(self._items)
        self.count += 1
        return item


def events(ctx: Context) -> int:
    if ctx.arg("follow", False):
        from papyra.cli.follow import follow_events

        return follow_events(ctx)
    return _listing(ctx, "events")


def audits(ctx: Context) -> int:
    return _listing(ctx, "audits")


def dead_letters(ctx: Context) -> int:
    return _listing(ctx, "dead_letters")


# --------------------------------------------------------------------------- summary


def summary(ctx: Context) -> int:
    """Latest audit, counts per kind and time range (retained records, within the window), in
    one streaming pass (constant memory on file stores)."""
    since, until = _window(ctx)
    backend = ctx.store().backend
    before = _skipped_so_far(backend)
    counts = dict.fromkeys(_METHODS, 0)
    names = {record_class(k): k for k in _METHODS}
    first: float | None = None
    last: float | None = None
    latest = None
    for r in newest_first(ctx, list(_METHODS), since, until):
        kind = names[type(r)]
        counts[kind] += 1
        ts = r.timestamp
        first = ts if first is None or ts < first else first
        last = ts if last is None or ts > last else last
        if latest is None and kind == "audits":
            latest = r  # newest first: the first audit met is the latest
    skipped = _skipped_so_far(backend) - before
    _report_skipped(ctx, skipped)
    out = ctx.out
    if not out.is_text:
        out.json(
            ctx.envelope(
                EXIT_OK,
                latest_audit=record_dict(latest) if latest is not None else None,
                counts=counts,
                first_timestamp=first,
                last_timestamp=last,
                unreadable_lines_skipped=skipped,
            )
        )
        return EXIT_OK
    store = ctx.store()
    out.heading(f"Summary of {store.kind} store {store.describe()['location']}")
    pairs: list[tuple[str, Any]] = []
    if latest is None:
        out.info("No audit data available.")
    else:
        pairs += [
            ("latest audit", format_ts(latest.timestamp)),
            (
                "Actors",
                f"total={latest.total_actors} alive={latest.alive_actors} "
                f"stopping={latest.stopping_actors} restarting={latest.restarting_actors}",
            ),
            (
                "Registry",
                f"size={latest.registry_size} orphans={len(latest.registry_orphans)} "
                f"dead={len(latest.registry_dead)}",
            ),
            ("Dead letters", str(latest.dead_letters_count)),
        ]
    pairs += [
        (
            "records",
            f"events={counts['events']} audits={counts['audits']} dead_letters={counts['dead_letters']}",
        ),
        ("time range", f"{format_ts(first)} -> {format_ts(last)}"),
    ]
    out.kv(pairs)
    return EXIT_OK
