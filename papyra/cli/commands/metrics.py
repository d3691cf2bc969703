"""``papyra metrics persistence | reset``.

A CLI process does not share counters with the application: the counters shown are those of
the CLI's own backend instance *after the command's own work* (a scan and a read of the store),
next to figures derived from the store itself (records and bytes per kind, anomalies).
``--format prometheus`` prints ``papyra.contrib.prometheus.render(backend)`` (those counters)
followed by gauges derived from the store — the figures the text and JSON formats show — each
with the ``backend`` label:

==========================================  ===================================================
``papyra_store_exists``                     1, or 0 for a file store that does not exist yet
``papyra_store_records{kind}``              records per kind (``event``, ``audit``,
                                            ``dead_letter``)
``papyra_store_bytes{kind}``                encoded bytes per kind
``papyra_store_size_bytes``                 size of the store's files (file stores)
``papyra_store_files``                      files in the store (file stores; rotating: members)
``papyra_store_unreadable_lines``           lines that are not readable records (file stores)
``papyra_store_anomalies``                  anomalies found by the scan (if the backend scans)
``papyra_store_oldest_timestamp_seconds``   time of the oldest record (absent when empty)
``papyra_store_newest_timestamp_seconds``   time of the newest record (absent when empty)
==========================================  ===================================================

File stores are counted from their files (physical content, before retention); other stores
from their retained records.
"""

from __future__ import annotations

import importlib
from typing import Any

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_OK, OperationalError
from papyra.cli.output import Output, format_ts

__all__ = ["persistence", "reset"]


def _derived(ctx: Context) -> dict[str, Any]:
    from papyra.cli.commands.persistence import _figures

    backend = ctx.store().backend
    report = backend.scan() if callable(getattr(backend, "scan", None)) else None
    figures = _figures(ctx)
    derived = figures.to_dict()
    derived["anomalies"] = len(report.anomalies) if report is not None else None
    return derived


def _store_gauges(prometheus: Any, backend: Any, derived: dict[str, Any], *, exists: bool) -> str:
    """The store's own figures as Prometheus gauges (see the module docs)."""
    from papyra.cli.stats import KIND_KEYS

    labels = {"backend": str(getattr(backend, "backend_name", type(backend).__name__))}
    kinds = derived["kinds"]
    files_basis = derived["basis"] == "files"
    gauges: list[tuple[str, str, list[tuple[dict[str, str], float]]]] = [
        ("exists", "1 if the store exists, 0 for a file store not created yet.", [({}, int(exists))]),
        (
            "records",
            "Records in the store per kind (file stores: every readable line, before retention).",
            [({"kind": kind}, kinds[key]["records"]) for kind, key in KIND_KEYS.items()],
        ),
        (
            "bytes",
            "Encoded bytes of the store's records per kind.",
            [({"kind": kind}, kinds[key]["bytes"]) for kind, key in KIND_KEYS.items()],
        ),
    ]
    if files_basis:
        gauges += [
            ("size_bytes", "Size of the store's files.", [({}, derived["total_bytes"])]),
            ("files", "Files in the store (a rotating set: its members).", [({}, len(derived["files"]))]),
            (
                "unreadable_lines",
                "Lines of the store's files that are not readable records.",
                [({}, derived["unreadable_lines"])],
            ),
        ]
    if derived["anomalies"] is not None:
        gauges.append(("anomalies", "Anomalies found by an integrity scan.", [({}, derived["anomalies"])]))
    for edge, key in (("oldest", "first_timestamp"), ("newest", "last_timestamp")):
        if derived[key] is not None:
            gauges.append(
                (
                    f"{edge}_timestamp_seconds",
                    f"Time of the {edge} record (Unix epoch seconds).",
                    [({}, float(derived[key]))],
                )
            )
    return "".join(
        prometheus.render_gauge(f"papyra_store_{name}", description, samples, labels)
        for name, description, samples in gauges
    )


def _snapshot_rows(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in snapshot.items():
        if key == "histograms" and isinstance(value, dict):
            for name, hist in value.items():
                if isinstance(hist, dict):
                    rows.append((f"{name}.count", str(hist.get("count"))))
                    rows.append((f"{name}.sum", f"{hist.get('sum', 0):.6g}"))
        elif not isinstance(value, dict):
            rows.append((key, str(value)))
    return rows


def _print_derived(out: Output, derived: dict[str, Any]) -> None:
    out.write("")
    basis = "files" if derived["basis"] == "files" else "retained records"
    out.heading(f"Store figures (from {basis})")
    rows = [(name, str(k["records"]), str(k["bytes"])) for name, k in derived["kinds"].items()]
    rows.append(("total", str(derived["total_records"]), str(derived["total_bytes"])))
    out.table(["kind", "records", "bytes"], rows, right=(1, 2), indent=2)
    out.kv(
        [
            ("anomalies", "unsupported" if derived["anomalies"] is None else str(derived["anomalies"])),
            (
                "time range",
                f"{format_ts(derived['first_timestamp'])} -> {format_ts(derived['last_timestamp'])}",
            ),
        ]
    )


def _no_metrics(ctx: Context) -> bool:
    metrics = getattr(ctx.store().backend, "metrics", None)
    if callable(getattr(metrics, "snapshot", None)):
        return False
    if ctx.out.is_text:
        ctx.out.info("Persistence backend does not expose metrics.")
    else:
        ctx.out.json(ctx.envelope(EXIT_OK, metrics=None, derived=None))
    return True


def persistence(ctx: Context) -> int:
    from papyra.persistence.base import safe_metrics_snapshot

    out = ctx.out
    if out.fmt == "prometheus":
        try:
            prometheus = importlib.import_module("papyra.contrib.prometheus")
        except ModuleNotFoundError as exc:
            if exc.name not in ("papyra.contrib.prometheus", "papyra.contrib"):
                raise
            raise OperationalError(
                "--format prometheus needs papyra.contrib.prometheus, "
                "which is not available in this installation"
            ) from exc
        derived = _derived(ctx)  # the command's own work, as in the other formats
        backend = ctx.store().backend
        text = prometheus.render(backend)
        text += _store_gauges(prometheus, backend, derived, exists=not ctx.store().missing)
        out.write(text.removesuffix("\n"))
        return EXIT_OK
    if _no_metrics(ctx):
        return EXIT_OK
    derived = _derived(ctx)
    snapshot = safe_metrics_snapshot(ctx.store().backend)
    if not out.is_text:
        out.json(ctx.envelope(EXIT_OK, metrics=snapshot, derived=derived))
        return EXIT_OK
    store = ctx.store()
    out.heading(f"Persistence Metrics ({store.kind} store {store.describe()['location']})")
    if not snapshot:
        out.info("No metrics available.")
    else:
        out.info("Counters of this CLI process's backend instance, after this command's scan and read.")
        out.table(["Key", "Value"], _snapshot_rows(snapshot), right=(1,), indent=2)
    _print_derived(out, derived)
    return EXIT_OK


def reset(ctx: Context) -> int:
    from papyra.persistence.base import safe_metrics_snapshot

    if _no_metrics(ctx):
        return EXIT_OK
    backend = ctx.store().backend
    backend.metrics.reset()
    snapshot = safe_metrics_snapshot(backend)
    out = ctx.out
    if not out.is_text:
        out.json(ctx.envelope(EXIT_OK, metrics=snapshot))
        return EXIT_OK
    out.success("Metrics reset")
    out.info("Counters live in each process: this resets the CLI's backend instance, not the application's.")
    return EXIT_OK
