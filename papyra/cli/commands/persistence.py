"""``papyra persistence scan | recover | compact | inspect | startup-check``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_ANOMALIES, EXIT_OK, OperationalError
from papyra.cli.health import run_health_check
from papyra.cli.output import format_bytes, format_ts
from papyra.cli.render import anomaly_text, is_stray, recovery_lines, render_anomalies, retention_text
from papyra.cli.stats import StoreFigures, figures_from_backend, figures_from_files, retained_from_files

__all__ = ["compact", "inspect", "recover", "scan", "startup_check"]


def _where(ctx: Context) -> str:
    store = ctx.store()
    return f"{store.kind} store {store.describe()['location']}"


# --------------------------------------------------------------------------- scan


def scan(ctx: Context) -> int:
    """Read-only scan: exit 0 clean, 2 anomalies."""
    store = ctx.store()
    out = ctx.out
    scan_fn = getattr(store.backend, "scan", None)
    report = scan_fn() if callable(scan_fn) else None
    if report is None:
        if out.is_text:
            out.info("Persistence backend does not support scanning.")
        else:
            out.json(ctx.envelope(EXIT_OK, scan=None))
        return EXIT_OK
    anomalies = tuple(report.anomalies)
    code = EXIT_ANOMALIES if anomalies else EXIT_OK
    if not out.is_text:
        status = "anomalies" if anomalies else "healthy"
        out.json(ctx.envelope(code, status=status, scan=report.to_dict()))
        return code
    out.info(f"Scanned {_where(ctx)}")
    if not anomalies:
        out.success("Persistence is healthy.")
    else:
        render_anomalies(out, anomalies, header=f"Found {len(anomalies)} persistence anomalies:")
    return code


# --------------------------------------------------------------------------- recover


def _prepare_quarantine_dir(raw: str) -> str:
    qdir = Path(raw).expanduser()
    if qdir.is_symlink():
        raise OperationalError(f"quarantine directory {qdir} is a symlink; refusing to use it")
    if not qdir.exists():
        if not qdir.parent.is_dir():
            raise OperationalError(f"cannot create quarantine directory {qdir}: {qdir.parent} does not exist")
        qdir.mkdir(mode=0o700)
    elif not qdir.is_dir():
        raise OperationalError(f"quarantine directory {qdir} is not a directory")
    return str(qdir)


def _run_recover(store: Any, mode: Any, qdir_arg: str | None) -> Any:
    from papyra.persistence.models import PersistenceRecoveryConfig

    qdir = _prepare_quarantine_dir(qdir_arg) if qdir_arg else None
    return store.backend.recover(PersistenceRecoveryConfig(mode=mode, quarantine_dir=qdir))


def recover(ctx: Context) -> int:
    """Recover, re-scan: exit 0 clean afterwards, 2 anomalies remain."""
    from papyra.persistence.models import PersistenceRecoveryMode

    mode = PersistenceRecoveryMode.parse(ctx.arg("mode", "repair"))
    dry_run = bool(ctx.arg("dry_run", False))
    qdir_arg = ctx.arg("quarantine_dir")
    if qdir_arg and mode is not PersistenceRecoveryMode.QUARANTINE:
        from papyra.cli.errors import UsageError

        raise UsageError("--quarantine-dir applies only to --mode quarantine")
    store = ctx.store()
    out = ctx.out
    if dry_run:
        return _recover_dry_run(ctx, mode.value, qdir_arg)
    report = _run_recover(store, mode, qdir_arg)
    post = store.backend.scan()
    remaining = tuple(post.anomalies)
    code = EXIT_ANOMALIES if remaining else EXIT_OK
    if not out.is_text:
        out.json(
            ctx.envelope(
                code, mode=mode.value, dry_run=False, recovery=report.to_dict(), post_scan=post.to_dict()
            )
        )
        return code
    found = tuple(report.scan.anomalies)
    out.info(f"Recovery completed ({mode.value}) on {_where(ctx)}")
    out.info(f"  anomalies found: {len(found)}")
    for anomaly in found:
        out.info(f"  - {anomaly_text(anomaly)}")
    for line in recovery_lines(report):
        out.info(f"  {line}")
    if remaining:
        render_anomalies(
            out, remaining, header=f"{len(remaining)} persistence anomalies remain after recovery:"
        )
    elif found:
        out.success("Persistence is healthy after recovery.")
    else:
        out.success("Persistence is healthy; nothing to recover.")
    return code


def _recover_dry_run(ctx: Context, mode: str, qdir: str | None) -> int:
    store = ctx.store()
    out = ctx.out
    report = store.backend.scan()
    anomalies = tuple(report.anomalies)
    strays = sorted({a.path for a in anomalies if is_stray(a)})
    files = sorted({a.path for a in anomalies if not is_stray(a)})
    code = EXIT_ANOMALIES if anomalies else EXIT_OK
    if not out.is_text:
        plan = {
            "files_to_rewrite": files if mode != "ignore" else [],
            "files_to_quarantine": files + strays if mode == "quarantine" else [],
            "files_to_remove": strays if mode != "ignore" else [],
            "quarantine_dir": qdir,
        }
        out.json(
            ctx.envelope(code, mode=mode, dry_run=True, recovery=None, post_scan=report.to_dict(), plan=plan)
        )
        return code
    out.info(f"Dry run: recovery ({mode}) on {_where(ctx)}; nothing is changed")
    if not anomalies:
        out.success("Persistence is healthy; nothing to recover.")
        return code
    render_anomalies(out, anomalies, header=f"Found {len(anomalies)} persistence anomalies:")
    if mode == "ignore":
        out.info("Mode ignore would change nothing.")
    for path in files if mode != "ignore" else []:
        out.info(f"  would rewrite {path}, keeping every readable record")
        if mode == "quarantine":
            out.info(f"  would keep the damaged original in {qdir or Path(path).parent}")
    for path in strays if mode != "ignore" else []:
        out.info(f"  would take {path} out of the store (it is not a member)")
        if mode == "quarantine":
            out.info(f"  would keep its bytes in {qdir or Path(path).parent}")
    return code


# --------------------------------------------------------------------------- compact


def _figures(ctx: Context) -> StoreFigures:
    store = ctx.store()
    files = store.files()
    if files or store.kind in ("json", "rotating"):
        return figures_from_files(files)
    return figures_from_backend(store.backend)


def compact(ctx: Context) -> int:
    """Compact (or show what compaction would remove with ``--dry-run``)."""
    store = ctx.store()
    out = ctx.out
    if bool(ctx.arg("dry_run", False)):
        return _compact_dry_run(ctx)
    from papyra.cli.progress import Progress

    with Progress(out.stderr, f"compacting {store.describe()['location']}"):
        report: Any = store.backend.compact()
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report or {})
    if not out.is_text:
        out.json(ctx.envelope(EXIT_OK, dry_run=False, compaction=data))
        return EXIT_OK
    out.info(f"Compaction completed on {_where(ctx)}")
    before, after = data.get("before_records"), data.get("after_records")
    removed = data.get("removed_records")
    out.kv(
        [
            ("records", f"{before} -> {after} (removed {removed})"),
            (
                "bytes",
                f"{format_bytes(data.get('before_bytes'))} -> {format_bytes(data.get('after_bytes'))}"
                f" (reclaimed {format_bytes(data.get('reclaimed_bytes'))})",
            ),
        ]
    )
    if data.get("quarantined_records"):
        out.info(
            f"  quarantined {data['quarantined_records']} unreadable records to {data.get('quarantine_path')}"
        )
    if data.get("relative_timestamp_records"):
        out.info(
            f"  kept {data['relative_timestamp_records']} records with relative (pre-2001, monotonic-clock) "
            "timestamps regardless of max_age"
        )
    return EXIT_OK


def _compact_dry_run(ctx: Context) -> int:
    store = ctx.store()
    out = ctx.out
    before = _figures(ctx)
    physical = before.basis == "files"
    retention = getattr(store.backend, "retention", None)
    if physical and retention is not None and hasattr(retention, "window"):
        after = retained_from_files(store.files(), retention)
    else:
        after = figures_from_backend(store.backend)
    if not physical:
        before = after  # the backend's physical content is not visible through its contract
    rows: list[dict[str, Any]] = []
    for name, fig in before.kinds.items():
        kept = after.kinds[name]
        rows.append(
            {
                "kind": name,
                "before_records": fig.records,
                "after_records": kept.records,
                "removed_records": max(0, fig.records - kept.records),
                "before_bytes": fig.bytes,
                "after_bytes": kept.bytes,
            }
        )
    total_removed = sum(r["removed_records"] for r in rows)
    if not out.is_text:
        compaction = {
            "backend": store.kind,
            "before_records": before.total_records,
            "after_records": after.total_records,
            "before_bytes": before.total_bytes if physical else None,
            "after_bytes": sum(k.bytes for k in after.kinds.values()),
            "removed_records": total_removed,
            "unreadable_lines": before.unreadable_lines,
        }
        out.json(ctx.envelope(EXIT_OK, dry_run=True, compaction=compaction, removed=rows))
        return EXIT_OK
    out.info(f"Dry run: compaction of {_where(ctx)}; nothing is changed")
    out.info(f"  retention: {retention_text(getattr(store.backend, 'retention', None))}")
    table_rows = [
        (
            r["kind"],
            r["before_records"],
            r["after_records"],
            r["removed_records"],
            format_bytes(r["before_bytes"]),
            format_bytes(r["after_bytes"]),
        )
        for r in rows
    ]
    table_rows.append(
        (
            "total",
            before.total_records,
            after.total_records,
            total_removed,
            format_bytes(sum(r["before_bytes"] for r in rows)),
            format_bytes(sum(r["after_bytes"] for r in rows)),
        )
    )
    out.table(
        ["kind", "before", "after", "removed", "bytes before", "bytes after"],
        table_rows,
        right=(1, 2, 3, 4, 5),
        indent=2,
    )
    if before.unreadable_lines:
        out.info(f"  {before.unreadable_lines} unreadable lines would not be kept (run 'persistence scan')")
    if not physical:
        out.info("  (this backend does not expose its physical size; figures are retained records)")
    if total_removed:
        out.info(f"Compaction would remove {total_removed} records.")
    else:
        out.success("Nothing to remove: every record is within retention.")
    return EXIT_OK


# --------------------------------------------------------------------------- inspect


def inspect(ctx: Context) -> int:
    """Backend, location, size, records per kind, time range, retention, anomalies."""
    from papyra.persistence.base import safe_metrics_snapshot

    store = ctx.store()
    out = ctx.out
    backend = store.backend
    figures = _figures(ctx)
    report = backend.scan() if callable(getattr(backend, "scan", None)) else None
    anomalies = len(report.anomalies) if report is not None else None
    retention = getattr(backend, "retention", None)
    show_metrics = bool(ctx.arg("show_metrics", False))
    snapshot = safe_metrics_snapshot(backend) if show_metrics else None
    if not out.is_text:
        details: Any = None
        describe = getattr(backend, "describe", None)
        if callable(describe):
            try:
                details = describe()
            except Exception:
                details = None
        doc = ctx.envelope(
            EXIT_OK,
            details=details,
            figures=figures.to_dict(),
            retention=retention.to_dict() if hasattr(retention, "to_dict") else None,  # type: ignore[union-attr]
            anomalies=anomalies,
        )
        if show_metrics:
            doc["metrics"] = snapshot
        out.json(doc)
        return EXIT_OK
    desc = store.describe()
    out.heading("Persistence Inspect")
    out.heading("-------------------")
    files = figures.files
    size = f"{format_bytes(figures.total_bytes)} ({figures.total_bytes} bytes)"
    if figures.basis == "files":
        size += f" in {len(files)} file{'s' if len(files) != 1 else ''}"
    else:
        size += " of retained records"
    kinds = figures.kinds
    pairs: list[tuple[str, Any]] = [
        (
            "backend",
            f"{desc['backend']} ({type(backend).__name__})",
        ),
        ("location", desc["location"]),
        ("exists", "yes" if desc["exists"] else "no"),
        ("size", size),
        (
            "records",
            f"{figures.total_records} (events {kinds['events'].records}, audits "
            f"{kinds['audits'].records}, dead letters {kinds['dead_letters'].records})",
        ),
        ("time range", f"{format_ts(figures.first_timestamp)} -> {format_ts(figures.last_timestamp)}"),
        ("retention", retention_text(retention)),
        ("anomalies", "unsupported" if anomalies is None else str(anomalies)),
    ]
    if figures.unreadable_lines:
        pairs.append(("unreadable lines", str(figures.unreadable_lines)))
    rotating = _rotation_figures(backend)
    if rotating is not None:
        max_files, max_bytes = rotating
        pairs.append(
            (
                "rotation",
                f"at most {max_files} files of {format_bytes(max_bytes)} "
                f"(disk bound {format_bytes(max_files * max_bytes)}, "
                f"{max_files * max_bytes} bytes)",
            )
        )
    out.kv(pairs)
    if len(files) > 1 or (rotating is not None and files):
        out.write("")
        out.table(["file", "bytes"], [(p, s) for p, s in files], right=(1,), indent=2)
    if show_metrics:
        out.write("")
        if not snapshot:
            out.info("metrics: <unavailable>")
        else:
            out.heading("metrics:")
            out.kv([(k, v) for k, v in snapshot.items() if not isinstance(v, dict)])
    return EXIT_OK


def _rotation_figures(backend: Any) -> tuple[int, int] | None:
    """``(max_files, max_bytes)`` of a rotating backend, else None."""
    max_files, max_bytes = getattr(backend, "max_files", None), getattr(backend, "max_bytes", None)
    if isinstance(max_files, int) and isinstance(max_bytes, int):
        return max_files, max_bytes
    return None


# --------------------------------------------------------------------------- startup-check


def startup_check(ctx: Context) -> int:
    """Exactly what ``ActorSystem.start()`` would decide (0 pass, 1 fail_on_anomaly, 2 left)."""
    return run_health_check(ctx, doctor=False)
