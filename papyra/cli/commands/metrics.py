"""``papyra metrics persistence | reset``.

A CLI process does not share counters with the application: the counters shown by the text and
JSON formats are those of the CLI's own backend instance *after the command's own work* (a scan
and a read of the store), next to figures derived from the store itself (records and bytes per
kind, anomalies).

``--format prometheus`` exports the store's own figures — the ``store`` metrics of
:data:`papyra.contrib.catalog.STORE_METRICS` (records and bytes per kind, size and size bound,
files, unreadable lines, anomalies, oldest/newest record time, when and how long the figures
took) — as gauges labelled by ``backend`` and ``store`` (the path, or the Redis prefix with
``system_id``), so several stores can be exported side by side. The CLI process's own counters
(which restart at every run) are added only with ``--process-counters``. ``--textfile-dir DIR``
writes the exposition atomically to ``DIR/papyra_<store>_<hash>.prom`` (one file per store, for
node_exporter's textfile collector) instead of stdout, and prints nothing on success.
File stores are counted from their files (physical content, before retention); other stores
from their retained records. Cost: one scan and one sequential read of the store.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import time
from pathlib import Path
from typing import Any

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_OK, OperationalError
from papyra.cli.output import Output, format_ts

__all__ = ["persistence", "reset", "textfile_name"]


def _derived(ctx: Context) -> dict[str, Any]:
    from papyra.cli.commands.persistence import _figures

    started = time.time()
    clock = time.perf_counter()
    backend = ctx.store().backend
    report = backend.scan() if callable(getattr(backend, "scan", None)) else None
    figures = _figures(ctx)
    derived = figures.to_dict()
    derived["anomalies"] = len(report.anomalies) if report is not None else None
    derived["scan_timestamp"] = started
    derived["scan_seconds"] = time.perf_counter() - clock
    return derived


def _size_bound(backend: Any) -> int | None:
    """A rotating set's ``max_bytes x max_files``, else the retention's ``max_total_bytes``."""
    describe = getattr(backend, "describe", None)
    bound = describe().get("disk_bound_bytes") if callable(describe) else None
    if bound is None:
        bound = getattr(getattr(backend, "retention", None), "max_total_bytes", None)
    return bound if isinstance(bound, int) else None


def _store_values(backend: Any, derived: dict[str, Any], *, exists: bool) -> dict[str, Any]:
    """The value of every :data:`STORE_METRICS` key (None: not known, left out)."""
    from papyra.cli.stats import KIND_KEYS

    kinds = derived["kinds"]
    files_basis = derived["basis"] == "files"
    return {
        "exists": int(exists),
        "records": {kind: kinds[key]["records"] for kind, key in KIND_KEYS.items()},
        "bytes": {kind: kinds[key]["bytes"] for kind, key in KIND_KEYS.items()},
        "size_bytes": derived["total_bytes"] if files_basis else None,
        "bound_bytes": _size_bound(backend),
        "files": len(derived["files"]) if files_basis else None,
        "unreadable_lines": derived["unreadable_lines"] if files_basis else None,
        "anomalies": derived["anomalies"],
        "oldest": derived["first_timestamp"],
        "newest": derived["last_timestamp"],
        "scan_timestamp": derived["scan_timestamp"],
        "scan_seconds": derived["scan_seconds"],
    }


class _StoreCollector:
    """The store's figures as a ``prometheus_client`` collector (values taken once)."""

    def __init__(self, prometheus: Any, labels: dict[str, str], values: dict[str, Any]) -> None:
        self._prometheus = prometheus
        self._labels = labels
        self._values = values

    def collect(self) -> Any:
        from papyra.contrib.catalog import STORE_METRICS

        families: dict[str, Any] = {}
        for spec in STORE_METRICS:
            self._prometheus.add_sample(families, spec, self._values[spec.key], self._labels)
        return iter(families.values())


def textfile_name(labels: dict[str, str]) -> str:
    """``papyra_<store, as a safe name>_<8 hex digits of its hash>.prom``: one file per store
    (the hash keeps distinct stores apart when their safe names are alike)."""
    ident = "\n".join(f"{k}={v}" for k, v in sorted(labels.items()))
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", labels.get("store", "store")).strip("_.")[-80:] or "store"
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:8]
    return f"papyra_{slug}_{digest}.prom"


def _load_prometheus() -> Any:
    from papyra.exceptions import MissingDependencyError

    try:
        return importlib.import_module("papyra.contrib.prometheus")
    except MissingDependencyError as exc:
        raise OperationalError(f"--format prometheus: {exc}") from exc
    except ModuleNotFoundError as exc:
        if exc.name not in ("papyra.contrib.prometheus", "papyra.contrib"):
            raise
        raise OperationalError(
            "--format prometheus needs papyra.contrib.prometheus, "
            "which is not available in this installation"
        ) from exc


def _prometheus(ctx: Context) -> int:
    from papyra.contrib.catalog import identity, label_name

    prometheus = _load_prometheus()
    derived = _derived(ctx)  # the command's own work, as in the other formats
    backend = ctx.store().backend
    labels = {label_name(k): v for k, v in identity(backend).items()}
    collectors: list[Any] = [
        _StoreCollector(prometheus, labels, _store_values(backend, derived, exists=not ctx.store().missing))
    ]
    if ctx.arg("process_counters", False):
        collectors.append(prometheus.PapyraCollector(backend))
    registry = prometheus.registry_for(collectors)
    directory = ctx.arg("textfile_dir")
    if directory is not None:
        target = Path(directory) / textfile_name(labels)
        try:
            prometheus.write_registry_to_textfile(target, registry)
        except OSError as exc:
            raise OperationalError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return EXIT_OK
    ctx.out.write(prometheus.render_registry(registry).removesuffix("\n"))  # secrets masked
    return EXIT_OK


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
    if out.fmt == "prometheus" or ctx.arg("textfile_dir") is not None:
        return _prometheus(ctx)
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
