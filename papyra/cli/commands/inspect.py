"""``papyra inspect events | audits | dead-letters | summary``.

Filters (``--event-type``, ``--actor``, ``--target``, ``--message-type``) and the time window
apply **before** ``--limit`` (newest N of the matching records); ``--reverse`` prints newest
first. Without filters the limit is passed to the backend, which can then read only the tail.

Reads skip unreadable lines; when a command skipped any, one warning line on stderr gives the
count ("3 unreadable lines skipped; run `papyra persistence scan`") and JSON output carries it
as ``unreadable_lines_skipped``. The exit code does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    from papyra.persistence.grammar import to_plain

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


def select(ctx: Context, kind: str) -> list[Any]:
    """The records to show: window, filters, then newest ``--limit``, oldest first."""
    since, until = _window(ctx)
    limit = ctx.arg("limit")
    match = _matcher(ctx, kind)
    method = getattr(ctx.store().backend, _METHODS[kind])
    if match is None:
        return list(method(limit=limit, since=since, until=until))
    records = [r for r in method(since=since, until=until) if match(r)]
    if limit is not None:
        records = records[-limit:]
    return records


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


def print_records(out: Output, kind: str, records: Sequence[Any]) -> None:
    headers, right = HEADERS[kind]
    out.table(headers, [_row(kind, r) for r in records], right=right)


def _listing(ctx: Context, kind: str) -> int:
    before = _skipped_so_far(ctx.store().backend)
    records = select(ctx, kind)
    skipped = _skipped_so_far(ctx.store().backend) - before
    _report_skipped(ctx, skipped)
    if ctx.arg("reverse", False):
        records.reverse()
    out = ctx.out
    if out.fmt == "ndjson":
        for r in records:
            out.ndjson(record_dict(r))
        return EXIT_OK
    if out.fmt == "json":
        out.json(
            ctx.envelope(
                EXIT_OK,
                kind=kind,
                count=len(records),
                records=[record_dict(r) for r in records],
                unreadable_lines_skipped=skipped,
            )
        )
        return EXIT_OK
    if not records:
        filtered = any(
            ctx.arg(n) for n in ("since", "until", "event_type", "actor", "target", "message_type")
        )
        out.info(_NO_MATCH[kind] if filtered else _EMPTY[kind])
        return EXIT_OK
    print_records(out, kind, records)
    return EXIT_OK


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
    """Latest audit, counts per kind and time range (retained records, within the window)."""
    since, until = _window(ctx)
    backend = ctx.store().backend
    lists: dict[str, list[Any]] = {}
    per_read: list[int] = []
    for kind, method in _METHODS.items():
        before = _skipped_so_far(backend)
        lists[kind] = list(getattr(backend, method)(since=since, until=until))
        per_read.append(_skipped_so_far(backend) - before)
    # A file store is one log, so each of the three reads meets the same unreadable lines;
    # Redis keeps one stream per kind.
    skipped = max(per_read) if ctx.store().kind in ("json", "rotating") else sum(per_read)
    _report_skipped(ctx, skipped)
    counts = {kind: len(records) for kind, records in lists.items()}
    stamps = [r.timestamp for records in lists.values() for r in records]
    first, last = (min(stamps), max(stamps)) if stamps else (None, None)
    latest = lists["audits"][-1] if lists["audits"] else None
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
