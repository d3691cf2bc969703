"""``papyra metrics persistence | reset``.

A CLI process does not share counters with the application: the counters shown are those of
the CLI's own backend instance *after the command's own work* (a scan and a read of the store),
next to figures derived from the store itself (records and bytes per kind, anomalies).
``--format prometheus`` delegates to ``papyra.contrib.prometheus.render(backend)``.
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
        _derived(ctx)  # the command's own work, as in the other formats
        text = prometheus.render(ctx.store().backend)
        out.stdout.write(text if text.endswith("\n") else text + "\n")
        out.stdout.flush()
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
