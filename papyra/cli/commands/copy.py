"""``papyra persistence copy --from SPEC --to SPEC [--append] [--dry-run]``.

A store SPEC is one string:

* ``redis://…``, ``rediss://…``, ``unix://…`` or ``redis+sentinel://h1:p1,h2:p2/service/db`` —
  Redis; the query parameters ``prefix``, ``system_id`` and ``cluster=1`` choose the streams and
  the topology; the others go to the client, and one it does not know is a usage error (exit
  64, naming the parameter and the allowed ones), e.g.
  ``redis://host:6379/0?prefix=papyra&system_id=orders&cluster=1``;
* ``json:PATH`` or ``rotating:PATH[?max_bytes=N&max_files=N]`` — a file store;
* ``PATH`` — a file store, ``rotating`` when numbered siblings ``PATH.1``… exist, else ``json``
  (as ``--path``).

Exit codes: 0 copied and verified (or dry run done), 3 target not empty (without ``--append``),
verification failed or a store unavailable, 64 bad SPEC.
"""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_OK, UsageError
from papyra.cli.progress import Progress
from papyra.cli.redact import redact
from papyra.cli.store import Store, check_redis_url_options, open_store, resolve_spec

__all__ = ["copy", "parse_store_spec"]

_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel")
#: Query parameters of a Redis SPEC that choose the store (the others go to the client).
_SPEC_OPTIONS = ("prefix", "system_id", "cluster")


def parse_store_spec(text: str) -> argparse.Namespace:
    """The store-selection arguments a SPEC stands for (see module docs); ``UsageError`` when
    it names no store."""
    if not text or not text.strip():
        raise UsageError("a store SPEC must not be empty")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme in _REDIS_SCHEMES:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ours = {k: v for k, v in pairs if k in _SPEC_OPTIONS}
        cluster = ours.get("cluster", "0").lower() in ("1", "true", "yes")
        check_redis_url_options(text, own=_SPEC_OPTIONS, cluster=cluster)
        rest = urllib.parse.urlencode([(k, v) for k, v in pairs if k not in ours])
        url = urllib.parse.urlunsplit(parts._replace(query=rest))
        return argparse.Namespace(
            backend="redis",
            redis_url=url,
            prefix=ours.get("prefix") or None,
            system_id=ours.get("system_id") or None,
            redis_cluster=cluster,
        )
    kind, sep, rest = text.partition(":")
    if sep and kind in ("json", "rotating"):
        path, _, query = rest.partition("?")
        options = dict(urllib.parse.parse_qsl(query))
        try:
            sizes = {k: int(options[k]) for k in ("max_bytes", "max_files") if k in options}
        except ValueError:
            raise UsageError(f"max_bytes/max_files must be integers in {redact(text)!r}") from None
        if kind == "json" and sizes:
            raise UsageError("max_bytes/max_files apply to rotating: stores only")
        return argparse.Namespace(backend=kind, path=path, **sizes)
    if "://" in text:
        raise UsageError(
            f"unknown store SPEC {redact(text)!r}: use a redis URL, json:PATH, rotating:PATH or PATH"
        )
    return argparse.Namespace(path=text)


def _open(text: str, ctx: Context) -> Store:
    spec = resolve_spec(parse_store_spec(text), {})  # a SPEC is complete: no environment
    store = open_store(spec)
    for note in store.notes:
        ctx.out.note(note)
    return store


def copy(ctx: Context) -> int:
    """Copy every record from ``--from`` to ``--to``, verify, report."""
    from papyra.persistence.copy import copy_store

    out = ctx.out
    source = _open(ctx.arg("source"), ctx)
    try:
        target = _open(ctx.arg("target"), ctx)
        try:
            dry_run = bool(ctx.arg("dry_run", False))
            label = f"{'checking' if dry_run else 'copying'} {source.spec.location} -> {target.spec.location}"
            with Progress(out.stderr, label) as progress:
                report = copy_store(
                    source.backend,
                    target.backend,
                    append=bool(ctx.arg("append", False)),
                    dry_run=dry_run,
                    progress=lambda n: progress.update(f"{label}: {n} records"),
                )
        finally:
            target.close()
    finally:
        source.close()
    doc: dict[str, Any] = report.to_dict()
    doc.update(source=source.spec.location, target=target.spec.location)
    if not out.is_text:
        out.json(ctx.envelope(EXIT_OK, copy=doc))
        return EXIT_OK
    verb = "Would copy" if dry_run else "Copied"
    counts = report.counts
    out.info(f"{verb} {report.total} records from {source.spec.location} to {target.spec.location}")
    out.kv(
        [
            ("events", counts["event"]),
            ("audits", counts["audit"]),
            ("dead letters", counts["dead_letter"]),
            ("digest", f"sha256:{report.digest}"),
        ]
    )
    if any(report.target_before.values()):
        out.info(f"Appended after {sum(report.target_before.values())} records the target already held.")
    if report.verified:
        out.success("Verified: the target's copy has the same counts and digest.")
    return EXIT_OK
